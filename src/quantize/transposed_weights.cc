#include "quantize/transposed_weights.h"

#include <cstring>
#include <map>
#include <set>

#include "quantize/rewrites.h"

namespace kiln::quantize {

namespace {

const std::string kSuffix = "_transposed";

void for_subgraphs(Node& n, const std::function<void(Graph&)>& f) {
  for (auto& [k, a] : n.attributes) {
    if (a.g) f(*a.g);
    for (auto& sg : a.graphs) f(*sg);
  }
}

void collect_names(Graph& g, std::set<std::string>& names) {
  for (const auto& [k, t] : g.initializers) names.insert(k);
  for (const auto& v : g.inputs) names.insert(v.name);
  for (Node& n : g.nodes) {
    for (const auto& o : n.outputs) names.insert(o);
    for_subgraphs(n, [&](Graph& sg) { collect_names(sg, names); });
  }
}

void collect_reads(Graph& g, std::set<std::string>& reads) {
  for (const auto& v : g.outputs) reads.insert(v.name);
  for (Node& n : g.nodes) {
    for (const auto& i : n.inputs) reads.insert(i);
    for_subgraphs(n, [&](Graph& sg) { collect_reads(sg, reads); });
  }
}

bool is_reverse_2d(const Node& n) {
  auto perm = n.attributes.find("perm");
  if (perm == n.attributes.end()) return true;  // no perm: the axes reversed
  return perm->second.ints == std::vector<int64_t>{1, 0};
}

struct Source {
  Graph* owner;
  std::string table;
};

struct Materializer {
  const std::function<bool(const Node&)>& wanted;
  std::set<std::string> names;                            // every value name: new ones must not clash
  std::map<std::pair<Graph*, std::string>, std::string> made;  // (owner, table) -> new initializer
  std::set<std::string> rewired;                          // Transpose outputs no longer read by the products
  int count = 0;

  // The graph in scope that owns `name` as a float 2-D initializer (not shadowed by an input).
  Graph* owner_of(const std::vector<Graph*>& stack, const std::string& name) {
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
      if ((*it)->find_input(name)) return nullptr;
      auto t = (*it)->initializers.find(name);
      if (t == (*it)->initializers.end()) continue;
      return t->second.dtype() == DType::F32 && t->second.rank() == 2 ? *it : nullptr;
    }
    return nullptr;
  }

  std::string initializer_for(Graph* owner, const std::string& table) {
    auto key = std::make_pair(owner, table);
    auto it = made.find(key);
    if (it != made.end()) return it->second;
    std::string name = table + kSuffix;
    for (int i = 1; names.count(name); ++i) name = fmt::format("{}{}_{}", table, kSuffix, i);
    names.insert(name);
    owner->initializers[name] = owner->initializers.at(table).transposed_2d_f32();
    ++count;
    return made[key] = name;
  }

  // `sources` maps Transpose outputs visible here to the table they transpose.
  void walk(Graph& g, std::vector<Graph*>& stack, std::map<std::string, Source> sources) {
    stack.push_back(&g);
    for (Node& n : g.nodes) {
      if (n.op_type == "Transpose" && canonical_domain(n.domain).empty() && n.inputs.size() == 1 &&
          n.outputs.size() == 1 && is_reverse_2d(n))
        if (Graph* owner = owner_of(stack, n.inputs[0])) sources[n.outputs[0]] = {owner, n.inputs[0]};
      for_subgraphs(n, [&](Graph& sg) { walk(sg, stack, sources); });
      bool product = (n.op_type == "MatMul" || n.op_type == "Gemm") && canonical_domain(n.domain).empty() &&
                     n.inputs.size() > 1;
      if (!product || !wanted(n)) continue;
      auto src = sources.find(n.inputs[1]);
      if (src == sources.end()) continue;
      rewired.insert(n.inputs[1]);
      n.inputs[1] = initializer_for(src->second.owner, src->second.table);
    }
    stack.pop_back();
  }
};

void drop_unread_transposes(Graph& g, const std::set<std::string>& candidates, const std::set<std::string>& reads) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    for_subgraphs(n, [&](Graph& sg) { drop_unread_transposes(sg, candidates, reads); });
    bool drop = n.op_type == "Transpose" && n.outputs.size() == 1 && candidates.count(n.outputs[0]) &&
                !reads.count(n.outputs[0]);
    if (!drop) kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
}

bool is_transpose_of(const Tensor& t, const Tensor& table) {
  if (t.dtype() != DType::F32 || table.dtype() != DType::F32 || t.rank() != 2 || table.rank() != 2) return false;
  if (t.dim(0) != table.dim(1) || t.dim(1) != table.dim(0)) return false;
  Tensor expect = table.transposed_2d_f32();
  return std::memcmp(expect.raw(), t.raw(), t.nbytes()) == 0;
}

}  // namespace

int materialize_transposed_weights(Graph& g, const std::function<bool(const Node&)>& wanted) {
  Materializer m{wanted, {}, {}, {}, 0};
  collect_names(g, m.names);
  std::vector<Graph*> stack;
  m.walk(g, stack, {});
  if (m.rewired.empty()) return 0;
  std::set<std::string> reads;
  collect_reads(g, reads);
  drop_unread_transposes(g, m.rewired, reads);
  return m.count;
}

int restore_transposed_weights(Graph& g) {
  int restored = 0;
  for (Node& n : g.nodes) for_subgraphs(n, [&](Graph& sg) { restored += restore_transposed_weights(sg); });
  std::set<std::string> reads;
  collect_reads(g, reads);
  std::vector<Node> front;
  for (auto it = g.initializers.begin(); it != g.initializers.end();) {
    const std::string& name = it->first;
    std::string table;
    size_t at = name.rfind(kSuffix);
    if (at != std::string::npos) table = name.substr(0, at);
    auto src = table.empty() ? g.initializers.end() : g.initializers.find(table);
    if (!reads.count(name) || src == g.initializers.end() || !is_transpose_of(it->second, src->second)) {
      ++it;
      continue;
    }
    Node t;
    t.op_type = "Transpose";
    t.name = name + "_Transpose";
    t.inputs = {table};
    t.outputs = {name};
    t.attributes["perm"] = attr_ints({1, 0});
    front.push_back(std::move(t));
    it = g.initializers.erase(it);
    ++restored;
  }
  g.nodes.insert(g.nodes.begin(), std::make_move_iterator(front.begin()), std::make_move_iterator(front.end()));
  return restored;
}

}  // namespace kiln::quantize
