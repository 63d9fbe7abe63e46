#include "graph/graph.h"

#include <set>
#include <unordered_map>
#include <unordered_set>

namespace kiln {

Attribute attr_int(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}
Attribute attr_float(float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  return a;
}
Attribute attr_string(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}
Attribute attr_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute attr_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(v);
  return a;
}
Attribute attr_tensor(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = std::move(t);
  return a;
}


std::string canonical_domain(const std::string& d) { return d == "ai.onnx" ? std::string() : d; }

const Attribute* Node::attr(const std::string& k) const {
  auto it = attributes.find(k);
  return it == attributes.end() ? nullptr : &it->second;
}

int64_t Node::attr_int(const std::string& k, int64_t dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  KILN_CHECK(a->kind == Attribute::Kind::Int, BadModel, "{}: attribute '{}' must be an int", label(), k);
  return a->i;
}

float Node::attr_float(const std::string& k, float dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::Int) return (float)a->i;
  KILN_CHECK(a->kind == Attribute::Kind::Float, BadModel, "{}: attribute '{}' must be a float", label(), k);
  return a->f;
}

std::string Node::attr_string(const std::string& k, const std::string& dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  KILN_CHECK(a->kind == Attribute::Kind::String, BadModel, "{}: attribute '{}' must be a string", label(), k);
  return a->s;
}

std::vector<int64_t> Node::attr_ints(const std::string& k, std::vector<int64_t> dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  KILN_CHECK(a->kind == Attribute::Kind::Ints, BadModel, "{}: attribute '{}' must be a list of ints", label(), k);
  return a->ints;
}

std::vector<float> Node::attr_floats(const std::string& k, std::vector<float> dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  KILN_CHECK(a->kind == Attribute::Kind::Floats, BadModel, "{}: attribute '{}' must be a list of floats", label(), k);
  return a->floats;
}

std::string Node::label() const {
  std::string d = domain.empty() ? "ai.onnx" : domain;
  return name.empty() ? fmt::format("{} ({})", op_type, d) : fmt::format("{} '{}' ({})", op_type, name, d);
}

const ValueInfo* Graph::find_input(const std::string& n) const {
  for (const auto& v : inputs)
    if (v.name == n) return &v;
  return nullptr;
}

const ValueInfo* Graph::find_output(const std::string& n) const {
  for (const auto& v : outputs)
    if (v.name == n) return &v;
  return nullptr;
}

int64_t Graph::parameter_count() const {
  int64_t n = 0;
  for (const auto& [_, t] : initializers) n += t.numel();
  for (const auto& node : nodes)
    for (const auto& [_, a] : node.attributes) {
      if (a.g) n += a.g->parameter_count();
      for (const auto& g : a.graphs) n += g->parameter_count();
    }
  return n;
}

int64_t Graph::parameter_bytes() const {
  int64_t n = 0;
  for (const auto& [_, t] : initializers) n += t.dtype() == DType::String ? 0 : (int64_t)t.nbytes();
  for (const auto& node : nodes)
    for (const auto& [_, a] : node.attributes) {
      if (a.g) n += a.g->parameter_bytes();
      for (const auto& g : a.graphs) n += g->parameter_bytes();
    }
  return n;
}

void collect_outer_reads(const Graph& g, std::unordered_set<std::string>& out) {
  std::unordered_set<std::string> local;
  for (const auto& v : g.inputs) local.insert(v.name);
  for (const auto& [n, _] : g.initializers) local.insert(n);
  for (const auto& node : g.nodes)
    for (const auto& o : node.outputs) local.insert(o);
  for (const auto& node : g.nodes) {
    for (const auto& i : node.inputs)
      if (!i.empty() && !local.count(i)) out.insert(i);
    for (const auto& [_, a] : node.attributes) {
      std::unordered_set<std::string> inner;
      if (a.g) collect_outer_reads(*a.g, inner);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, inner);
      for (const auto& n : inner)
        if (!local.count(n)) out.insert(n);
    }
  }
}

namespace {
const char* kCorrupt = "the model file is corrupt, re-export it";
const char* kUnique = "every value needs a name of its own, so the model file is corrupt, re-export it";
}  // namespace

void Graph::topological_sort(const std::vector<std::string>& outer, bool subgraphs) {
  std::unordered_set<std::string> available(outer.begin(), outer.end());
  std::unordered_set<std::string> input_names;
  for (const auto& v : inputs) {
    KILN_CHECK(input_names.insert(v.name).second, BadModel, "graph '{}': two inputs are named '{}'; {}", name, v.name,
               kUnique);
    available.insert(v.name);
  }
  for (const auto& [n, _] : initializers) available.insert(n);

  // Every input of a node (and every outer name its subgraphs read) is a dependency. A value has
  // one producer: a second node writing it, or a node writing over an input or an initializer,
  // would leave which one a reader gets to the order of execution.
  std::vector<std::vector<std::string>> deps(nodes.size());
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].outputs) {
      if (o.empty()) continue;
      auto [it, fresh] = producer.emplace(o, i);
      if (!fresh && it->second == i)
        throw BadModel(fmt::format("graph '{}': {} writes '{}' twice; {}", name, nodes[i].label(), o, kUnique));
      if (!fresh)
        throw BadModel(fmt::format("graph '{}': {} and {} both write '{}'; {}", name, nodes[it->second].label(),
                                   nodes[i].label(), o, kUnique));
      if (initializers.count(o))
        throw BadModel(fmt::format("graph '{}': {} writes '{}', which is already an initializer; {}", name,
                                   nodes[i].label(), o, kUnique));
      if (input_names.count(o))
        throw BadModel(fmt::format("graph '{}': {} writes '{}', which is already a graph input; {}", name,
                                   nodes[i].label(), o, kUnique));
    }
  for (const auto& v : outputs)
    KILN_CHECK(available.count(v.name) || producer.count(v.name), BadModel,
               "graph '{}': output '{}' is not produced by any node, input or initializer; {}", name, v.name, kCorrupt);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs)
      if (!in.empty()) deps[i].push_back(in);
    std::unordered_set<std::string> sub;
    for (const auto& [_, a] : nodes[i].attributes) {
      if (a.g) collect_outer_reads(*a.g, sub);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, sub);
    }
    for (const auto& s : sub)
      if (producer.count(s)) deps[i].push_back(s);  // others come from further out
  }
  std::vector<int> missing(nodes.size(), 0);
  std::unordered_map<std::string, std::vector<size_t>> waiting;
  std::vector<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<std::string> uniq(deps[i].begin(), deps[i].end());
    for (const auto& d : uniq) {
      if (available.count(d)) continue;
      if (!producer.count(d))
        throw BadModel(fmt::format("graph '{}': {} reads '{}', which no node, input or initializer provides; {}",
                                   name, nodes[i].label(), d, kCorrupt));
      ++missing[i];
      waiting[d].push_back(i);
    }
    if (missing[i] == 0) ready.push_back(i);
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  std::vector<bool> placed(nodes.size(), false);
  // Keep the original order among ready nodes (stable): process the smallest index first.
  std::set<size_t> queue(ready.begin(), ready.end());
  while (!queue.empty()) {
    size_t i = *queue.begin();
    queue.erase(queue.begin());
    sorted.push_back(nodes[i]);
    placed[i] = true;
    for (const auto& o : nodes[i].outputs) {
      auto it = waiting.find(o);
      if (it == waiting.end()) continue;
      for (size_t j : it->second)
        if (--missing[j] == 0) queue.insert(j);
      waiting.erase(it);
    }
  }
  if (sorted.size() != nodes.size()) {
    std::string stuck;
    size_t listed = 0, left = nodes.size() - sorted.size();
    for (size_t i = 0; i < nodes.size() && listed < 4; ++i)
      if (!placed[i]) stuck += (listed++ ? ", " : "") + nodes[i].label();
    if (left > listed) stuck += fmt::format(" and {} more", left - listed);
    throw BadModel(fmt::format("graph '{}' has a cycle: {} wait on each other's outputs, so none can run; {}", name,
                               stuck, kCorrupt));
  }
  nodes = std::move(sorted);
  if (!subgraphs) return;
  // Subgraphs see this graph's values and everything further out.
  std::vector<std::string> visible(available.begin(), available.end());
  for (const auto& [o, _] : producer) visible.push_back(o);
  for (auto& n : nodes)
    for (auto& [_, a] : n.attributes) {
      if (a.g) a.g->topological_sort(visible, true);
      for (auto& sg : a.graphs) sg->topological_sort(visible, true);
    }
}

int64_t Model::opset(const std::string& d) const {
  std::string c = canonical_domain(d);
  for (const auto& o : opsets)
    if (canonical_domain(o.domain) == c) return o.version;
  return 0;
}

void Model::set_opset(const std::string& d, int64_t version) {
  std::string c = canonical_domain(d);
  for (auto& o : opsets)
    if (canonical_domain(o.domain) == c) { o.version = version; return; }
  opsets.push_back({c, version});
}

}  // namespace kiln
