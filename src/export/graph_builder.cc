#include "export/graph_builder.h"

#include <cmath>

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
Attribute attr_tensor(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = std::move(t);
  return a;
}

GraphBuilder::GraphBuilder(std::string graph_name, int64_t opset) : opset_(opset) {
  model_.ir_version = 8;
  model_.opsets = {{"", opset}};
  model_.producer_name = "kiln";
  model_.graph.name = std::move(graph_name);
}

std::string GraphBuilder::fresh(const std::string& hint) { return fmt::format("{}_{}", hint, counter_++); }

std::string GraphBuilder::input(const std::string& name, DType dtype, std::vector<Dim> dims) {
  model_.graph.inputs.push_back({name, dtype, std::move(dims), "", false});
  return name;
}

void GraphBuilder::output(const std::string& value, const std::string& name, DType dtype, std::vector<Dim> dims) {
  if (value != name) {
    Node n;
    n.op_type = "Identity";
    n.name = "output_" + name;
    n.inputs = {value};
    n.outputs = {name};
    model_.graph.nodes.push_back(std::move(n));
  }
  model_.graph.outputs.push_back({name, dtype, std::move(dims), "", false});
}

std::string GraphBuilder::initializer(const std::string& name, Tensor t) {
  model_.graph.initializers[name] = std::move(t);
  return name;
}

std::string GraphBuilder::const_i64(std::vector<int64_t> v, bool scalar) {
  Shape s = scalar ? Shape{} : Shape{(int64_t)v.size()};
  return initializer(fresh("const_i64"), Tensor::from_vector<int64_t>(s, v));
}

std::string GraphBuilder::const_f32(float v) { return initializer(fresh("const_f32"), Tensor::scalar<float>(v)); }

std::vector<std::string> GraphBuilder::op_n(const std::string& op_type, std::vector<std::string> inputs, int n_outputs,
                                            std::map<std::string, Attribute> attrs, const std::string& domain) {
  Node n;
  n.op_type = op_type;
  n.domain = domain;
  n.name = fresh(op_type);
  n.inputs = std::move(inputs);
  for (int i = 0; i < n_outputs; ++i) n.outputs.push_back(n.name + (n_outputs == 1 ? "" : "_" + std::to_string(i)) + "_out");
  n.attributes = std::move(attrs);
  auto outs = n.outputs;
  model_.graph.nodes.push_back(std::move(n));
  return outs;
}

std::string GraphBuilder::op(const std::string& op_type, std::vector<std::string> inputs,
                             std::map<std::string, Attribute> attrs, const std::string& domain) {
  return op_n(op_type, std::move(inputs), 1, std::move(attrs), domain)[0];
}

static Tensor transpose_2d(const Tensor& w) {
  KILN_CHECK(w.rank() == 2, BadModel, "a linear weight must be 2-D, got {}", shape_str(w.shape()));
  Tensor f = w.dtype() == DType::F32 ? w : w.cast(DType::F32);
  int64_t rows = f.dim(0), cols = f.dim(1);
  Tensor t(DType::F32, {cols, rows});
  const float* src = f.data<float>();
  float* dst = t.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return t;
}

std::string GraphBuilder::linear(const std::string& x, const Tensor& weight, const Tensor* bias,
                                 const std::string& prefix) {
  std::string w = initializer(prefix + ".weight_t", transpose_2d(weight));
  std::string y = op("MatMul", {x, w});
  if (!bias) return y;
  std::string b = initializer(prefix + ".bias", bias->dtype() == DType::F32 ? *bias : bias->cast(DType::F32));
  return op("Add", {y, b});
}

std::string GraphBuilder::layer_norm(const std::string& x, const Tensor& gamma, const Tensor& beta, float eps,
                                     const std::string& prefix) {
  std::string g = initializer(prefix + ".weight", gamma);
  std::string b = initializer(prefix + ".bias", beta);
  return op("LayerNormalization", {x, g, b}, {{"axis", attr_int(-1)}, {"epsilon", attr_float(eps)}});
}

std::string GraphBuilder::gelu(const std::string& x) {
  std::string scaled = op("Div", {x, const_f32((float)std::sqrt(2.0))});
  std::string e = op("Erf", {scaled});
  std::string one_plus = op("Add", {e, const_f32(1.0f)});
  std::string prod = op("Mul", {x, one_plus});
  return op("Mul", {prod, const_f32(0.5f)});
}

Model GraphBuilder::finish() {
  model_.graph.topological_sort();
  return std::move(model_);
}

}  // namespace kiln
