// Small graphs built by hand for the quantizer's tests.
#pragma once
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace kiln::qtest {

inline Tensor random_matrix(int64_t r, int64_t c, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v((size_t)(r * c));
  for (auto& x : v) x = d(g);
  return Tensor::from_vector<float>({r, c}, v);
}

inline Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                 const std::string& name) {
  Node n;
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.name = name;
  return n;
}

inline ValueInfo value(const std::string& name, DType t, std::vector<int64_t> dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = t;
  std::vector<Dim> d;
  // Unknown sizes get a symbol of their own (equal symbols would claim equal sizes).
  for (size_t i = 0; i < dims.size(); ++i)
    d.push_back(dims[i] < 0 ? Dim{std::nullopt, i == 0 ? std::string("batch") : name + "_dim" + std::to_string(i)}
                            : Dim{dims[i], ""});
  v.shape = d;
  return v;
}

// X[batch, 8] -> MatMul(W0 [8, 6]) -> Add(b0) -> Relu -> Gemm(W1 [4, 6] transB, b1, alpha 0.5) -> Y[batch, 4]
// plus an activation x activation MatMul (h x h^T) as a second output that must stay float.
inline Model mlp_model(int64_t opset = 13) {
  Model m;
  m.opsets = {{"", opset}};
  Graph& g = m.graph;
  g.name = "mlp";
  g.inputs = {value("X", DType::F32, {-1, 8})};
  g.outputs = {value("Y", DType::F32, {-1, 4}), value("S", DType::F32, {-1, -1})};
  g.initializers["W0"] = random_matrix(8, 6, 1);
  g.initializers["b0"] = Tensor::from_vector<float>({6}, {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.6f});
  g.initializers["W1"] = random_matrix(4, 6, 2, -2.0f, 0.5f);
  g.initializers["b1"] = Tensor::from_vector<float>({4}, {1.0f, 2.0f, 3.0f, 4.0f});
  g.nodes.push_back(node("MatMul", {"X", "W0"}, {"h0"}, "fc0"));
  g.nodes.push_back(node("Add", {"h0", "b0"}, {"h1"}, "bias0"));
  g.nodes.push_back(node("Relu", {"h1"}, {"h"}, "relu"));
  Node gemm = node("Gemm", {"h", "W1", "b1"}, {"Y"}, "fc1");
  Attribute tb;
  tb.kind = Attribute::Kind::Int;
  tb.i = 1;
  gemm.attributes["transB"] = tb;
  Attribute al;
  al.kind = Attribute::Kind::Float;
  al.f = 0.5f;
  gemm.attributes["alpha"] = al;
  g.nodes.push_back(gemm);
  g.nodes.push_back(node("Transpose", {"h"}, {"hT"}, "tr"));
  g.nodes.push_back(node("MatMul", {"h", "hT"}, {"S"}, "scores"));
  return m;
}

inline int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& x : g.nodes) n += x.op_type == op;
  return n;
}

inline const Node* producer(const Graph& g, const std::string& value) {
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (o == value) return &n;
  return nullptr;
}

}  // namespace kiln::qtest
