#include <unordered_set>

#include "passes/passes.h"

namespace kiln {

static void reads_of(const Graph& g, std::unordered_set<std::string>& out) {
  for (const auto& n : g.nodes) {
    for (const auto& i : n.inputs)
      if (!i.empty()) out.insert(i);
    for (const auto& [_, a] : n.attributes) {
      if (a.g) {
        reads_of(*a.g, out);
        for (const auto& o : a.g->outputs) out.insert(o.name);
      }
      for (const auto& sg : a.graphs) {
        reads_of(*sg, out);
        for (const auto& o : sg->outputs) out.insert(o.name);
      }
    }
  }
}

int remove_dead_nodes(Graph& g) {
  int removed = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    std::unordered_set<std::string> live;
    reads_of(g, live);
    for (const auto& o : g.outputs) live.insert(o.name);
    std::vector<Node> kept;
    for (auto& n : g.nodes) {
      bool used = false;
      for (const auto& o : n.outputs)
        if (!o.empty() && live.count(o)) used = true;
      if (used) kept.push_back(std::move(n));
      else { ++removed; changed = true; }
    }
    g.nodes = std::move(kept);
    for (auto it = g.initializers.begin(); it != g.initializers.end();) {
      if (!live.count(it->first)) it = g.initializers.erase(it);
      else ++it;
    }
  }
  return removed;
}

int remove_unread_inputs(Graph& g) {
  std::unordered_set<std::string> live;
  reads_of(g, live);
  for (const auto& o : g.outputs) live.insert(o.name);
  const size_t before = g.inputs.size();
  std::erase_if(g.inputs, [&](const ValueInfo& v) { return !live.count(v.name); });
  return (int)(before - g.inputs.size());
}

}  // namespace kiln
