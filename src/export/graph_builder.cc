#include "export/graph_builder.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace kiln::exporting {

GraphBuilder::GraphBuilder(std::string graph_name, int64_t opset) : opset_(opset) {
  // The IR version each opset was released with (opsets 13-18 are all readable as IR 8).
  model_.ir_version = opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
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

namespace {

// The ops whose axes (or split sizes) moved from an attribute to the second input, and the opset
// where that happened.
struct AxesMove {
  const char* op;
  const char* attr;
  int64_t since;
};
constexpr AxesMove kAxesMoves[] = {
    {"Squeeze", "axes", 13},         {"Unsqueeze", "axes", 13},      {"Split", "split", 13},
    {"ReduceSum", "axes", 13},       {"ReduceMean", "axes", 18},     {"ReduceMax", "axes", 18},
    {"ReduceMin", "axes", 18},       {"ReduceProd", "axes", 18},     {"ReduceL1", "axes", 18},
    {"ReduceL2", "axes", 18},        {"ReduceLogSum", "axes", 18},   {"ReduceLogSumExp", "axes", 18},
    {"ReduceSumSquare", "axes", 18},
};

}  // namespace

void GraphBuilder::adapt_axes(Node& n) {
  if (!n.domain.empty()) return;
  for (const AxesMove& m : kAxesMoves) {
    if (n.op_type != m.op) continue;
    if (opset_ >= m.since) {
      if (const Attribute* a = n.attr(m.attr)) {
        std::string axes = const_i64(a->ints);
        n.attributes.erase(m.attr);
        n.inputs.resize(std::max<size_t>(n.inputs.size(), 2));
        n.inputs[1] = axes;
      }
    } else if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
      auto it = model_.graph.initializers.find(n.inputs[1]);
      KILN_CHECK(it != model_.graph.initializers.end() && it->second.dtype() == DType::I64, InternalError,
                 "GraphBuilder: {} at opset {} needs constant int64 {}, not the value '{}'", n.op_type, opset_, m.attr,
                 n.inputs[1]);
      const int64_t* p = it->second.data<int64_t>();
      n.attributes[m.attr] = attr_ints(std::vector<int64_t>(p, p + it->second.numel()));
      n.inputs.erase(n.inputs.begin() + 1);
    }
    return;
  }
}

std::string GraphBuilder::decomposed_layer_norm(const std::vector<std::string>& in, float eps) {
  KILN_CHECK(in.size() >= 2, InternalError, "GraphBuilder: LayerNormalization needs x and a scale");
  std::string mean = reduce_mean(in[0], {-1});
  std::string d = op("Sub", {in[0], mean});
  std::string var = reduce_mean(op("Pow", {d, const_f32(2.0f)}), {-1});
  std::string y = op("Div", {d, op("Sqrt", {op("Add", {var, const_f32(eps)})})});
  y = op("Mul", {y, in[1]});
  return in.size() > 2 && !in[2].empty() ? op("Add", {y, in[2]}) : y;
}

std::vector<std::string> GraphBuilder::op_n(const std::string& op_type, std::vector<std::string> inputs, int n_outputs,
                                            std::map<std::string, Attribute> attrs, const std::string& domain) {
  if (op_type == "LayerNormalization" && domain.empty() && opset_ < 17) {
    auto axis = attrs.find("axis");
    KILN_CHECK(n_outputs == 1 && (axis == attrs.end() || axis->second.i == -1), InternalError,
               "GraphBuilder: below opset 17 only LayerNormalization over the last axis with one output is written");
    auto eps = attrs.find("epsilon");
    return {decomposed_layer_norm(inputs, eps == attrs.end() ? 1e-5f : eps->second.f)};
  }
  Node n;
  n.op_type = op_type;
  n.domain = domain;
  n.name = fresh(op_type);
  n.inputs = std::move(inputs);
  for (int i = 0; i < n_outputs; ++i) n.outputs.push_back(n.name + (n_outputs == 1 ? "" : "_" + std::to_string(i)) + "_out");
  n.attributes = std::move(attrs);
  adapt_axes(n);
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
  return w.transposed_2d_f32();
}

std::string GraphBuilder::unsqueeze(const std::string& x, std::vector<int64_t> axes) {
  return op("Unsqueeze", {x, const_i64(std::move(axes))});
}

std::string GraphBuilder::squeeze(const std::string& x, std::vector<int64_t> axes) {
  return op("Squeeze", {x, const_i64(std::move(axes))});
}

std::string GraphBuilder::reduce_mean(const std::string& x, std::vector<int64_t> axes, bool keepdims) {
  return op("ReduceMean", {x}, {{"axes", attr_ints(std::move(axes))}, {"keepdims", attr_int(keepdims ? 1 : 0)}});
}

static Tensor as_f32(const Tensor& t) { return t.dtype() == DType::F32 ? t : t.cast(DType::F32); }

std::string GraphBuilder::linear(const std::string& x, const Tensor& weight, const Tensor* bias,
                                 const std::string& prefix) {
  std::string w = prefix + ".weight_t";
  if (!has_initializer(w)) initializer(w, transpose_2d(weight));
  std::string y = op("MatMul", {x, w});
  if (!bias) return y;
  std::string b = prefix + ".bias";
  if (!has_initializer(b)) initializer(b, as_f32(*bias));
  return op("Add", {y, b});
}

std::string GraphBuilder::linear_tied(const std::string& x, const std::string& table) {
  KILN_CHECK(has_initializer(table), InternalError, "tied projection: {} is not an initializer of graph {}", table,
             model_.graph.name);
  return op("MatMul", {x, op("Transpose", {table}, {{"perm", attr_ints({1, 0})}})});
}

std::string GraphBuilder::layer_norm(const std::string& x, const Tensor& gamma, const Tensor& beta, float eps,
                                     const std::string& prefix) {
  std::string g = prefix + ".weight", b = prefix + ".bias";
  if (!has_initializer(g)) initializer(g, as_f32(gamma));
  if (!has_initializer(b)) initializer(b, as_f32(beta));
  return op("LayerNormalization", {x, g, b}, {{"axis", attr_int(-1)}, {"epsilon", attr_float(eps)}});
}

std::string GraphBuilder::gelu(const std::string& x) {
  std::string scaled = op("Div", {x, const_f32((float)std::sqrt(2.0))});
  std::string e = op("Erf", {scaled});
  std::string one_plus = op("Add", {e, const_f32(1.0f)});
  std::string prod = op("Mul", {x, one_plus});
  return op("Mul", {prod, const_f32(0.5f)});
}

std::string GraphBuilder::gelu_tanh(const std::string& x) {
  std::string cube = op("Mul", {op("Mul", {x, x}), x});
  std::string inner = op("Add", {x, op("Mul", {cube, const_f32(0.044715f)})});
  std::string t = op("Tanh", {op("Mul", {inner, const_f32((float)std::sqrt(2.0 / M_PI))})});
  std::string half_x = op("Mul", {x, const_f32(0.5f)});
  return op("Mul", {half_x, op("Add", {t, const_f32(1.0f)})});
}

Model GraphBuilder::finish() {
  std::set<std::string> read;
  std::unordered_set<std::string> inner;  // read inside If/Loop bodies
  for (const Node& n : model_.graph.nodes) {
    read.insert(n.inputs.begin(), n.inputs.end());
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_outer_reads(*a.g, inner);
      for (const auto& g : a.graphs) collect_outer_reads(*g, inner);
    }
  }
  read.insert(inner.begin(), inner.end());
  for (const ValueInfo& v : model_.graph.outputs) read.insert(v.name);
  std::erase_if(model_.graph.initializers, [&](const auto& kv) { return !read.count(kv.first); });
  model_.graph.topological_sort();
  return std::move(model_);
}

}  // namespace kiln::exporting
