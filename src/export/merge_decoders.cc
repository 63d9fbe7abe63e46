#include "export/merge_decoders.h"

#include <cstring>
#include <functional>
#include <unordered_map>

#include "core/error.h"

namespace kiln::exporting {
namespace {

using Renames = std::unordered_map<std::string, std::string>;

// Rewrites value names read or written by the nodes of g (and read by its subgraphs).
void rename_values(Graph& g, const Renames& r) {
  auto fix = [&](std::string& name) {
    auto it = r.find(name);
    if (it != r.end()) name = it->second;
  };
  for (auto& node : g.nodes) {
    for (auto& i : node.inputs) fix(i);
    for (auto& o : node.outputs) fix(o);
    for (auto& [_, a] : node.attributes) {
      if (a.g) rename_values(*a.g, r);
      for (auto& sg : a.graphs) rename_values(*sg, r);
    }
  }
  for (auto& v : g.value_info) fix(v.name);
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

uint64_t tensor_hash(const Tensor& t) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over type, shape and bytes
  auto mix = [&](const void* p, size_t n) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
  };
  int dt = (int)t.dtype();
  mix(&dt, sizeof dt);
  for (int64_t d : t.shape()) mix(&d, sizeof d);
  if (t.nbytes()) mix(t.raw(), t.nbytes());
  return h;
}

// Moves g's initializers into `top`, reusing an identical tensor already there and renaming on a
// clash with a different one.
void hoist_initializers(Graph& g, std::map<std::string, Tensor>& top,
                        std::unordered_multimap<uint64_t, std::string>& by_hash) {
  Renames r;
  for (auto& [name, t] : g.initializers) {
    auto it = top.find(name);
    if (it != top.end() && same_tensor(it->second, t)) continue;
    uint64_t h = tensor_hash(t);
    std::string found;
    for (auto [b, e] = by_hash.equal_range(h); b != e; ++b)
      if (same_tensor(top.at(b->second), t)) {
        found = b->second;
        break;
      }
    if (found.empty()) {
      found = name;
      for (int k = 1; top.count(found); ++k) found = fmt::format("{}_{}", name, k);
      top[found] = t;
      by_hash.emplace(h, found);
    }
    if (found != name) r[name] = found;
  }
  g.initializers.clear();
  rename_values(g, r);
}

// Prefixes the names of the branch's own intermediate values and nodes so that the two branches and
// the outer graph never share one.
void scope_branch(Graph& g, const std::string& prefix) {
  std::unordered_map<std::string, bool> outputs;
  for (const auto& v : g.outputs) outputs[v.name] = true;
  Renames r;
  for (auto& node : g.nodes) {
    if (!node.name.empty()) node.name = prefix + node.name;
    for (const auto& o : node.outputs)
      if (!o.empty() && !outputs.count(o)) r[o] = prefix + o;
  }
  rename_values(g, r);
}

}  // namespace

Model merge_decoders(const Model& no_past, const Model& with_past) {
  Graph plain = no_past.graph, cached = with_past.graph;

  // The with-past graph must give every output of the no-past one, in the same order.
  std::vector<ValueInfo> cached_outputs;
  for (const auto& out : plain.outputs) {
    if (const ValueInfo* v = cached.find_output(out.name)) {
      KILN_CHECK(v->dtype == out.dtype, BadModel, "merging decoders: output '{}' has type {} without past, {} with past",
                 out.name, dtype_name(out.dtype), dtype_name(v->dtype));
      cached_outputs.push_back(*v);
      continue;
    }
    const std::string present = "present.";
    std::string past = out.name.rfind(present, 0) == 0 ? "past_key_values." + out.name.substr(present.size()) : "";
    const ValueInfo* in = past.empty() ? nullptr : cached.find_input(past);
    KILN_CHECK(in, BadModel,
               "merging decoders: output '{}' of the no-past decoder has no counterpart in the with-past decoder "
               "(neither an output nor a past_key_values input to pass through)",
               out.name);
    Node pass;
    pass.op_type = "Identity";
    pass.name = "pass_through_" + out.name;
    pass.inputs = {past};
    pass.outputs = {out.name};
    cached.nodes.push_back(std::move(pass));
    ValueInfo v = *in;
    v.name = out.name;
    cached_outputs.push_back(std::move(v));
  }
  cached.outputs = std::move(cached_outputs);

  Model m;
  m.ir_version = std::max(no_past.ir_version, with_past.ir_version);
  m.opsets = no_past.opsets;
  for (const auto& o : with_past.opsets)
    if (o.version > m.opset(o.domain)) m.set_opset(o.domain, o.version);
  m.producer_name = no_past.producer_name;
  m.producer_version = no_past.producer_version;
  m.graph.name = "merged_decoder";

  // Inputs: the with-past graph's (new tokens, encoder values, past), any the no-past one adds, and
  // the branch switch.
  m.graph.inputs = cached.inputs;
  for (const auto& in : plain.inputs) {
    const ValueInfo* v = cached.find_input(in.name);
    if (!v) m.graph.inputs.push_back(in);
    else
      KILN_CHECK(v->dtype == in.dtype, BadModel, "merging decoders: input '{}' has type {} without past, {} with past",
                 in.name, dtype_name(in.dtype), dtype_name(v->dtype));
  }
  KILN_CHECK(!m.graph.find_input("use_cache_branch"), BadModel,
             "merging decoders: the decoders already have a use_cache_branch input (already merged?)");
  m.graph.inputs.push_back({"use_cache_branch", DType::Bool, std::vector<Dim>{Dim{1, ""}}, "", false});

  // Outputs: the no-past graph's names and types; a dimension the branches disagree on is left open.
  for (size_t i = 0; i < plain.outputs.size(); ++i) {
    ValueInfo v = plain.outputs[i];
    const ValueInfo& c = cached.outputs[i];
    if (v.shape && c.shape && v.shape->size() == c.shape->size()) {
      for (size_t d = 0; d < v.shape->size(); ++d) {
        const Dim &a = (*v.shape)[d], &b = (*c.shape)[d];
        if (a.value != b.value || a.symbol != b.symbol) (*v.shape)[d] = Dim{};
      }
    } else {
      v.shape.reset();
    }
    m.graph.outputs.push_back(std::move(v));
  }

  std::unordered_multimap<uint64_t, std::string> by_hash;
  hoist_initializers(plain, m.graph.initializers, by_hash);
  hoist_initializers(cached, m.graph.initializers, by_hash);
  scope_branch(plain, "no_past/");
  scope_branch(cached, "with_past/");
  plain.inputs.clear();
  cached.inputs.clear();
  plain.name = "no_past";
  cached.name = "with_past";

  Node branch;
  branch.op_type = "If";
  branch.name = "use_cache_branch_if";
  branch.inputs = {"use_cache_branch"};
  for (const auto& o : m.graph.outputs) branch.outputs.push_back(o.name);
  Attribute then_branch, else_branch;
  then_branch.kind = else_branch.kind = Attribute::Kind::Graph;
  then_branch.g = std::make_shared<Graph>(std::move(cached));
  else_branch.g = std::make_shared<Graph>(std::move(plain));
  branch.attributes["then_branch"] = std::move(then_branch);
  branch.attributes["else_branch"] = std::move(else_branch);
  m.graph.nodes.push_back(std::move(branch));

  std::vector<std::string> outer;
  for (const auto& v : m.graph.inputs) outer.push_back(v.name);
  for (const auto& [n, _] : m.graph.initializers) outer.push_back(n);
  m.graph.nodes[0].attributes["then_branch"].g->topological_sort(outer);
  m.graph.nodes[0].attributes["else_branch"].g->topological_sort(outer);
  return m;
}

}  // namespace kiln::exporting
