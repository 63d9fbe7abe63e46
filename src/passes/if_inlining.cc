// An If whose condition is a constant takes one branch on every run, so the branch's nodes can stand
// where the If stands: the If goes, the chosen branch's nodes and initializers join the graph, and
// the branch's outputs are renamed to the If's outputs (an Identity where a rename cannot be made: an
// output that is an outer value, a branch initializer, or one a nested subgraph reads). Every later
// pass then sees those nodes as part of the graph: attention and product fusions, and the KV cache
// kept in place, which a branch's nodes never got. The condition is constant when constant folding
// made it one, or when the session fixed the input (SessionOptions::fixed_inputs: a merged
// decoder's use_cache_branch, opened once per value). Names need no prefix: ONNX forbids a branch
// to define a name of its enclosing graphs; a branch that does anyway is left as it is.
#include <map>
#include <unordered_set>

#include "passes/passes.h"

namespace kiln {

namespace {

// Every name a graph defines (inputs, initializers, node outputs), not looking into subgraphs.
void defined_names(const Graph& g, std::unordered_set<std::string>& out) {
  for (const auto& v : g.inputs) out.insert(v.name);
  for (const auto& [name, _] : g.initializers) out.insert(name);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) out.insert(o);
}

// The value of a one-element constant condition, or -1 when `name` is not one.
int constant_condition(const Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end() || it->second.numel() != 1) return -1;
  const Tensor& t = it->second;
  if (t.dtype() != DType::Bool && !dtype_is_integer(t.dtype()) && !dtype_is_float(t.dtype())) return -1;
  return t.item_f64(0) != 0 ? 1 : 0;
}

// Replaces node `at` (an If) by the nodes of `branch`; false (nothing changed) when the branch
// cannot be inlined.
bool inline_branch(Graph& g, size_t at, const Graph& taken) {
  const Node& node = g.nodes[at];
  if (!taken.inputs.empty() || taken.outputs.size() != node.outputs.size()) return false;
  // The If's own outputs are free to take; any other name of the graph is not.
  std::unordered_set<std::string> outer, inner, if_outputs(node.outputs.begin(), node.outputs.end());
  defined_names(g, outer);
  for (const auto& o : node.outputs) outer.erase(o);
  defined_names(taken, inner);
  for (const auto& name : inner)
    if (outer.count(name)) return false;
  // Names the branch's own subgraphs read from it: those keep their names.
  std::unordered_set<std::string> nested_reads;
  for (const auto& n : taken.nodes)
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_outer_reads(*a.g, nested_reads);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, nested_reads);
    }
  // A branch value named like one of the If's outputs (a branch made from a graph whose outputs had
  // those names, then passed through Identities) gets a name of its own first.
  Graph branch = taken;
  {
    std::map<std::string, std::string> fresh;
    for (const auto& name : inner)
      if (if_outputs.count(name)) {
        if (nested_reads.count(name)) return false;
        fresh[name] = name + "/" + (taken.name.empty() ? std::string("branch") : taken.name);
        if (inner.count(fresh[name]) || outer.count(fresh[name])) return false;
      }
    auto f = [&](std::string& v) {
      if (auto it = fresh.find(v); it != fresh.end()) v = it->second;
    };
    for (Node& n : branch.nodes) {
      for (auto& i : n.inputs) f(i);
      for (auto& o : n.outputs) f(o);
    }
    for (ValueInfo& v : branch.outputs) f(v.name);
    for (ValueInfo& v : branch.value_info) f(v.name);
    std::map<std::string, Tensor> inits;
    for (auto& [name, t] : branch.initializers) {
      std::string n = name;
      f(n);
      inits[n] = t;
    }
    branch.initializers = std::move(inits);
  }
  std::unordered_set<std::string> made_by_node;
  for (const auto& n : branch.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) made_by_node.insert(o);
  std::map<std::string, int> times_output;
  for (const auto& o : branch.outputs) ++times_output[o.name];

  std::map<std::string, std::string> rename;
  std::vector<Node> identities;
  for (size_t k = 0; k < branch.outputs.size(); ++k) {
    const std::string& from = branch.outputs[k].name;
    const std::string& to = node.outputs[k];
    if (to.empty()) continue;
    if (made_by_node.count(from) && times_output[from] == 1 && !nested_reads.count(from)) {
      rename[from] = to;
    } else {
      Node id;
      id.name = to + "/inlined_if_output";
      id.op_type = "Identity";
      id.inputs = {from};
      id.outputs = {to};
      identities.push_back(std::move(id));
    }
  }
  auto renamed = [&](const std::string& s) {
    auto it = rename.find(s);
    return it == rename.end() ? s : it->second;
  };
  std::vector<Node> nodes;
  nodes.reserve(branch.nodes.size() + identities.size());
  for (Node n : branch.nodes) {
    for (auto& i : n.inputs) i = renamed(i);
    for (auto& o : n.outputs) o = renamed(o);
    nodes.push_back(std::move(n));
  }
  for (Node& id : identities) nodes.push_back(std::move(id));
  for (const auto& [name, t] : branch.initializers) g.initializers[name] = t;
  for (ValueInfo v : branch.value_info) {
    v.name = renamed(v.name);
    g.value_info.push_back(std::move(v));
  }
  g.nodes.erase(g.nodes.begin() + (std::ptrdiff_t)at);
  g.nodes.insert(g.nodes.begin() + (std::ptrdiff_t)at, std::make_move_iterator(nodes.begin()),
                 std::make_move_iterator(nodes.end()));
  return true;
}

// After inlining, a branch output that was an Identity of a node's output y (branches often end so)
// names y's producer directly: Identity(x) -> out with x made by a node, x neither a graph output nor
// read by a subgraph, becomes that node writing `out` (its other readers read `out`). Later passes
// then see e.g. a KV cache's Concat writing the graph's present output itself.
void rename_through_identities(Graph& g) {
  std::unordered_set<std::string> subgraph_reads, graph_outputs, node_outputs;
  for (const auto& n : g.nodes) {
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_outer_reads(*a.g, subgraph_reads);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, subgraph_reads);
    }
    for (const auto& o : n.outputs)
      if (!o.empty()) node_outputs.insert(o);
  }
  for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  std::map<std::string, std::string> rename;
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (Node& n : g.nodes) {
    if (n.op_type == "Identity" && canonical_domain(n.domain).empty() && n.inputs.size() == 1 &&
        n.outputs.size() == 1 && !n.outputs[0].empty() && node_outputs.count(n.inputs[0]) &&
        !graph_outputs.count(n.inputs[0]) && !subgraph_reads.count(n.inputs[0]) && !rename.count(n.inputs[0])) {
      rename[n.inputs[0]] = n.outputs[0];
      continue;
    }
    kept.push_back(std::move(n));
  }
  // A chain of Identities renames to its last output.
  auto final_name = [&](std::string v) {
    for (auto it = rename.find(v); it != rename.end(); it = rename.find(v)) v = it->second;
    return v;
  };
  for (Node& n : kept) {
    for (auto& i : n.inputs) i = final_name(i);
    for (auto& o : n.outputs) o = final_name(o);
  }
  std::erase_if(g.value_info, [&](const ValueInfo& v) { return rename.count(v.name) > 0; });
  g.nodes = std::move(kept);
}

}  // namespace

int inline_constant_ifs(Graph& g) {
  int inlined = 0;
  for (size_t i = 0; i < g.nodes.size();) {
    const Node& n = g.nodes[i];
    const int c = n.op_type == "If" && canonical_domain(n.domain).empty() && n.inputs.size() == 1
                      ? constant_condition(g, n.inputs[0])
                      : -1;
    const Attribute* a = c < 0 ? nullptr : n.attr(c ? "then_branch" : "else_branch");
    if (!a || !a->g) {
      ++i;
      continue;
    }
    const std::shared_ptr<Graph> branch = a->g;  // held: the node holding it is replaced
    if (!inline_branch(g, i, *branch)) {
      ++i;
      continue;
    }
    // Position i now holds the branch's first node: its own Ifs come next.
    ++inlined;
  }
  if (inlined) rename_through_identities(g);
  return inlined;
}

}  // namespace kiln
