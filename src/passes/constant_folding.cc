#include <set>

#include "passes/passes.h"

namespace kiln {

static bool never_fold(const Node& n) {
  static const std::set<std::string> random_ops = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                   "RandomUniformLike", "Multinomial", "Bernoulli"};
  if (random_ops.count(n.op_type)) return true;
  for (const auto& [_, a] : n.attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

int fold_constants(Graph& g, const NodeEvaluator& evaluate) {
  std::set<std::string> graph_outputs;
  for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  int folded = 0;
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (auto& n : g.nodes) {
    bool all_const = !never_fold(n);
    size_t in_bytes = 0;
    std::vector<const Tensor*> ins;
    for (const auto& i : n.inputs) {
      if (i.empty()) { ins.push_back(nullptr); continue; }
      auto it = g.initializers.find(i);
      if (it == g.initializers.end()) { all_const = false; break; }
      ins.push_back(&it->second);
      in_bytes += it->second.nbytes();
    }
    // A graph output produced by a node stays a node output unless it is a Constant.
    for (const auto& o : n.outputs)
      if (graph_outputs.count(o) && n.op_type != "Constant") all_const = false;
    if (!all_const) { kept.push_back(std::move(n)); continue; }
    auto outs = evaluate(n, ins);
    size_t out_bytes = 0;
    if (outs)
      for (const auto& t : *outs) out_bytes += t.nbytes();
    bool too_big = outs && n.op_type != "Constant" && out_bytes > (1u << 20) && out_bytes > 4 * in_bytes + 4096;
    if (!outs || outs->size() < n.outputs.size() || too_big) { kept.push_back(std::move(n)); continue; }
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty()) g.initializers[n.outputs[k]] = (*outs)[k];
    ++folded;
  }
  g.nodes = std::move(kept);
  return folded;
}

}  // namespace kiln
