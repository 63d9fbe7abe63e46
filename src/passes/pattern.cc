#include "passes/pattern.h"

namespace kiln {

GraphIndex::GraphIndex(const Graph& g) : g_(g) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer_[o] = (int)i;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) consumers_[in].push_back((int)i);
    // A subgraph reading a value counts as a consumer that no pattern can absorb.
    for (const auto& [_, a] : g.nodes[i].attributes)
      if (a.g || !a.graphs.empty()) {
        std::vector<const Graph*> subs;
        if (a.g) subs.push_back(a.g.get());
        for (const auto& s : a.graphs) subs.push_back(s.get());
        for (const Graph* s : subs)
          for (const auto& n : s->nodes)
            for (const auto& in : n.inputs) consumers_[in].push_back(-2);
      }
  }
  for (const auto& o : g.outputs) graph_outputs_.insert(o.name);
}

int GraphIndex::producer(const std::string& v) const {
  auto it = producer_.find(v);
  return it == producer_.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::consumers(const std::string& v) const {
  auto it = consumers_.find(v);
  return it == consumers_.end() ? none_ : it->second;
}

bool GraphIndex::used_only_by(const std::string& v, size_t n) const {
  return !graph_outputs_.count(v) && consumers(v).size() == n;
}

int GraphIndex::sole_reader(const std::string& v) const {
  const auto& c = consumers(v);
  return used_only_by(v, 1) && c[0] >= 0 ? c[0] : -1;
}

std::optional<float> GraphIndex::scalar(const std::string& v) const {
  auto it = g_.initializers.find(v);
  if (it == g_.initializers.end() || it->second.numel() != 1 || !dtype_is_float(it->second.dtype()))
    return std::nullopt;
  return (float)it->second.item_f64(0);
}

std::optional<ResidualAdd> sole_residual_add(const Graph& g, const GraphIndex& ix, const std::string& y,
                                             const std::unordered_set<int>& dead) {
  const auto& readers = ix.consumers(y);
  if (!ix.used_only_by(y, 1) || readers.size() != 1 || readers[0] < 0 || dead.count(readers[0])) return std::nullopt;
  const Node& add = g.nodes[readers[0]];
  if (add.op_type != "Add" || !canonical_domain(add.domain).empty() || add.inputs.size() != 2 ||
      add.outputs.size() != 1 || add.inputs[0] == add.inputs[1])
    return std::nullopt;
  const std::string& r = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
  if (r.empty()) return std::nullopt;
  return ResidualAdd{readers[0], r};
}

int absorb_residual_adds(Graph& g, const std::function<bool(const Node&)>& accepts,
                         const std::function<void(Node&, const std::string&)>& attach) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  int absorbed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.outputs.size() != 1 || !accepts(n)) continue;
    const auto add = sole_residual_add(g, ix, n.outputs[0], dead);
    if (!add) continue;
    attach(n, add->residual);
    n.outputs = g.nodes[add->node].outputs;
    dead.insert(add->node);
    ++absorbed;
  }
  replace_nodes(g, dead, {});
  return absorbed;
}

Node gather_shape_output(Node& shape, const std::string& suffix, const std::string& perm_name) {
  const std::string out = shape.outputs[0];
  shape.outputs[0] = out + suffix;
  Node gather;
  gather.name = shape.name + suffix + "_gather";
  gather.op_type = "Gather";
  gather.inputs = {shape.outputs[0], perm_name};
  gather.outputs = {out};
  gather.attributes["axis"] = attr_int(0);
  return gather;
}

int replace_nodes(Graph& g, const std::unordered_set<int>& dead, std::vector<Node> added) {
  if (added.empty() && dead.empty()) return 0;
  int n = (int)added.size();
  std::vector<Node> kept;
  kept.reserve(g.nodes.size() - dead.size() + added.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead.count((int)i)) kept.push_back(std::move(g.nodes[i]));
  for (auto& n : added) kept.push_back(std::move(n));
  g.nodes = std::move(kept);
  g.topological_sort();
  return n;
}

}  // namespace kiln
