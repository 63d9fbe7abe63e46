#include "quantize/context.h"

#include <functional>

namespace kiln::quantize {

int GraphStats::total_quantized() const {
  int n = 0;
  for (const auto& [k, v] : quantized) n += v;
  return n;
}

Context::Context(Model& model, const Options& options, const Ranges* ranges, GraphStats& stats)
    : model_(model), opt_(options), ranges_(ranges), stats_(stats), opset_(model.opset("")) {
  collect_names(model.graph);
}

void Context::collect_names(const Graph& g) {
  for (const auto& v : g.inputs) names_.insert(v.name);
  for (const auto& v : g.outputs) names_.insert(v.name);
  for (const auto& [k, t] : g.initializers) names_.insert(k);
  for (const auto& n : g.nodes) {
    for (const auto& o : n.outputs) names_.insert(o);
    if (!n.name.empty()) names_.insert(n.name);
    for (const auto& [k, a] : n.attributes) {
      if (a.g) collect_names(*a.g);
      for (const auto& sg : a.graphs) collect_names(*sg);
    }
  }
}

std::string Context::fresh(const std::string& base) {
  std::string n = base;
  for (int i = 1; names_.count(n); ++i) n = base + "_" + std::to_string(i);
  names_.insert(n);
  return n;
}

const Tensor* Context::find_weight(const Scope& scope, const std::string& name, Graph** owner) const {
  for (const Scope* s = &scope; s; s = s->parent) {
    // A graph input of the same name shadows outer initializers and may be fed at run time.
    if (s->graph->find_input(name)) return nullptr;
    auto it = s->graph->initializers.find(name);
    if (it != s->graph->initializers.end()) {
      if (owner) *owner = s->graph;
      return it->second.dtype() == DType::F32 ? &it->second : nullptr;
    }
  }
  return nullptr;
}

bool Context::is_constant(const Scope& scope, const std::string& name) const {
  for (const Scope* s = &scope; s; s = s->parent) {
    if (s->graph->find_input(name)) return false;
    if (s->graph->initializers.count(name)) return true;
  }
  return false;
}

std::string Context::add_initializer(Graph& g, const std::string& base, Tensor t) {
  std::string n = fresh(base);
  g.initializers[n] = std::move(t);
  return n;
}

Node Context::make_node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name_base) {
  Node n;
  n.op_type = op;
  n.name = fresh(name_base);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

QValue Context::weight(Graph& owner, const std::string& name, const std::string& variant, const Tensor& w, DType type,
                       bool symmetric, int axis) {
  std::string key = fmt::format("{}|{}|{}|{}|{}|{}", (const void*)&owner, name, variant, (int)type, symmetric, axis);
  auto it = weights_.find(key);
  if (it != weights_.end()) return it->second;
  QuantizedTensor qt = quantize_tensor(w, type, symmetric, opt_.reduce_range, axis);
  QValue v;
  v.axis = qt.axis;
  std::string stem = name + (variant.empty() ? "" : "_" + variant);
  v.q = add_initializer(owner, stem + "_quantized", std::move(qt.q));
  v.scale = add_initializer(owner, stem + "_scale", std::move(qt.scale));
  v.zero_point = add_initializer(owner, stem + "_zero_point", std::move(qt.zero_point));
  stats_.weights_quantized += w.numel();
  weights_[key] = v;
  return v;
}

QValue Context::dynamic_activation(const Scope& scope, const std::string& value, std::vector<Node>& out) {
  auto key = std::make_pair((const Graph*)scope.graph, value);
  auto it = acts_.find(key);
  if (it != acts_.end()) return it->second;
  QValue v;
  v.q = fresh(value + "_quantized");
  v.scale = fresh(value + "_scale");
  v.zero_point = fresh(value + "_zero_point");
  out.push_back(make_node("DynamicQuantizeLinear", {value}, {v.q, v.scale, v.zero_point}, value + "_QuantizeLinear"));
  acts_[key] = v;
  return v;
}

QValue Context::static_activation(const Scope& scope, const std::string& value, std::vector<Node>& out) {
  auto key = std::make_pair((const Graph*)scope.graph, value);
  if (!opt_.qdq_dedicated_pair) {
    auto it = acts_.find(key);
    if (it != acts_.end()) return it->second;
  }
  KILN_CHECK(has_range(value), InternalError, "no calibrated range for '{}'", value);
  auto [lo, hi] = range(value);
  ScaleZp p = compute_scale_zp(lo, hi, opt_.activation_type, opt_.activation_symmetric, false);
  QValue v;
  v.scale = add_initializer(*scope.graph, value + "_scale", Tensor::scalar<float>(p.scale));
  Tensor zp(opt_.activation_type, {});
  if (opt_.activation_type == DType::I8) zp.data<int8_t>()[0] = (int8_t)p.zero_point;
  else zp.data<uint8_t>()[0] = (uint8_t)p.zero_point;
  v.zero_point = add_initializer(*scope.graph, value + "_zero_point", zp);
  v.q = fresh(value + "_QuantizeLinear_Output");
  out.push_back(make_node("QuantizeLinear", {value, v.scale, v.zero_point}, {v.q}, value + "_QuantizeLinear"));
  acts_[key] = v;
  return v;
}

std::string Context::dequantized(const QValue& v, const std::string& base, std::vector<Node>& out, bool dedicated) {
  if (!dedicated) {
    auto it = dq_.find(v.q);
    if (it != dq_.end()) return it->second;
  }
  std::string name = fresh(base + "_DequantizeLinear_Output");
  Node n = make_node("DequantizeLinear", {v.q, v.scale, v.zero_point}, {name}, base + "_DequantizeLinear");
  if (v.axis >= 0) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v.axis;
    n.attributes["axis"] = a;
  }
  out.push_back(std::move(n));
  if (!dedicated) dq_[v.q] = name;
  return name;
}

namespace {

void collect_reads(const Graph& g, std::set<std::string>& reads) {
  for (const auto& o : g.outputs) reads.insert(o.name);
  for (const auto& n : g.nodes) {
    for (const auto& i : n.inputs) reads.insert(i);
    for (const auto& [k, a] : n.attributes) {
      if (a.g) collect_reads(*a.g, reads);
      for (const auto& sg : a.graphs) collect_reads(*sg, reads);
    }
  }
}

void erase_unread(Graph& g, const std::set<std::string>& candidates, const std::set<std::string>& reads) {
  for (const auto& c : candidates)
    if (!reads.count(c)) g.initializers.erase(c);
  for (auto& n : g.nodes)
    for (auto& [k, a] : n.attributes) {
      if (a.g) erase_unread(*a.g, candidates, reads);
      for (auto& sg : a.graphs) erase_unread(*sg, candidates, reads);
    }
}

}  // namespace

void Context::sweep() {
  std::set<std::string> reads;
  collect_reads(model_.graph, reads);
  erase_unread(model_.graph, replaced_, reads);
}

}  // namespace kiln::quantize
