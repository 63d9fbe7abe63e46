// Fusion passes: each test builds the exporter's pattern with GraphBuilder and checks the graph
// after the pass; the golden tests check the fused models against PyTorch's outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "export/graph_builder.h"
#include "passes/passes.h"
#include "runtime/session.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

std::vector<std::string> op_types(const Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.domain.empty() ? n.op_type : n.domain + ":" + n.op_type);
  return ops;
}

Tensor vec(std::vector<float> v) { return Tensor::from_vector<float>({(int64_t)v.size()}, v); }

// LayerNorm over the last axis, written out the way torch.onnx.export does at opset 13.
Model decomposed_layer_norm(float eps) {
  GraphBuilder b("ln", 13);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{4, ""}});
  std::map<std::string, Attribute> last = {{"axes", attr_ints({-1})}};
  std::string mean = b.op("ReduceMean", {x}, last);
  std::string d = b.op("Sub", {x, mean});
  std::string var = b.op("ReduceMean", {b.op("Pow", {d, b.const_f32(2)})}, last);
  std::string n = b.op("Div", {d, b.op("Sqrt", {b.op("Add", {var, b.const_f32(eps)})})});
  std::string y = b.op("Add", {b.op("Mul", {n, b.initializer("gamma", vec({1, 2, 3, 4}))}),
                              b.initializer("beta", vec({0.5f, 0, 0, -0.5f}))});
  b.output(y, "y", DType::F32, {Dim{2, ""}, Dim{4, ""}});
  return b.finish();
}

TEST(LayerNormFusion, FusesTheExportedPattern) {
  Model m = decomposed_layer_norm(1e-5f);
  EXPECT_EQ(fuse_layer_norm(m.graph), 1);
  remove_dead_nodes(m.graph);
  auto ops = op_types(m.graph);
  ASSERT_EQ(ops.size(), 2u);  // the fused node and the output Identity
  EXPECT_EQ(ops[0], "com.microsoft:LayerNormalization");
  EXPECT_FLOAT_EQ(m.graph.nodes[0].attr_float("epsilon", 0), 1e-5f);
}

// How many nodes of the graph have the op type (domain ignored).
int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op;
  return n;
}

TEST(LayerNormFusion, FusedModelComputesLayerNorm) {
  Session s(decomposed_layer_norm(1e-5f));
  // The session's graph is the fused one: one LayerNormalization, none of the pattern's ops left
  // (the unfused graph would compute the same numbers, so the values alone prove nothing).
  const Graph& g = s.model().graph;
  EXPECT_EQ(count_op(g, "LayerNormalization"), 1);
  for (const char* op : {"ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Mul", "Add"}) EXPECT_EQ(count_op(g, op), 0) << op;
  auto y = s.run({{"x", Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, -1, -1, 1, 1})}}).at("y");
  // Row 0: mean 2.5, var 1.25; row 1: mean 0, var 1. Computed by hand.
  const float* p = y.data<float>();
  float inv0 = 1.0f / std::sqrt(1.25f + 1e-5f), inv1 = 1.0f / std::sqrt(1.0f + 1e-5f);
  EXPECT_NEAR(p[0], -1.5f * inv0 * 1 + 0.5f, 1e-5);
  EXPECT_NEAR(p[3], 1.5f * inv0 * 4 - 0.5f, 1e-5);
  EXPECT_NEAR(p[4], -1.0f * inv1 * 1 + 0.5f, 1e-5);
  EXPECT_NEAR(p[6], 1.0f * inv1 * 3, 1e-5);
}

TEST(LayerNormFusion, LeavesAPatternWithAnExtraReaderAlone) {
  Model m = decomposed_layer_norm(1e-5f);
  // Expose the centred value d (Sub's output) as a second graph output: fusing would lose it.
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "Sub") m.graph.outputs.push_back({n.outputs[0], DType::F32, std::nullopt});
  EXPECT_EQ(fuse_layer_norm(m.graph), 0);
}

// T5's LayerNorm as torch.onnx.export writes transformers' T5LayerNorm: x * rsqrt(mean(x^2) + eps) * w,
// the reciprocal root as Div(1, Sqrt) (form 0), Reciprocal(Sqrt) (1), or x divided by the root (2).
Model decomposed_rms_norm(float eps, int form, int64_t n = 4) {
  GraphBuilder b("rms", 13);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{n, ""}});
  std::map<std::string, Attribute> last = {{"axes", attr_ints({-1})}};
  std::string ms = b.op("ReduceMean", {b.op("Pow", {x, b.const_f32(2)})}, last);
  std::string root = b.op("Sqrt", {b.op("Add", {ms, b.const_f32(eps)})});
  std::string normed = form == 2 ? b.op("Div", {x, root})
                                 : b.op("Mul", {x, form == 0 ? b.op("Div", {b.const_f32(1), root})
                                                             : b.op("Reciprocal", {root})});
  std::vector<float> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = 0.5f + 0.25f * (float)i;
  std::string y = b.op("Mul", {b.initializer("w", vec(w)), normed});
  b.output(y, "y", DType::F32, {Dim{2, ""}, Dim{n, ""}});
  return b.finish();
}

TEST(RmsNormFusion, FusesTheThreeExportedForms) {
  for (int form = 0; form < 3; ++form) {
    Model m = decomposed_rms_norm(1e-6f, form);
    EXPECT_EQ(fuse_rms_norm(m.graph), 1) << form;
    remove_dead_nodes(m.graph);
    auto ops = op_types(m.graph);
    ASSERT_EQ(ops.size(), 2u) << form;  // the fused node and the output Identity
    EXPECT_EQ(ops[0], "com.microsoft:SimplifiedLayerNormalization") << form;
    EXPECT_FLOAT_EQ(m.graph.nodes[0].attr_float("epsilon", 0), 1e-6f) << form;
  }
  // A root read elsewhere too (a second graph output) is not the norm's alone: left as it is.
  Model m = decomposed_rms_norm(1e-6f, 0);
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "Sqrt") m.graph.outputs.push_back({n.outputs[0], DType::F32, std::nullopt});
  EXPECT_EQ(fuse_rms_norm(m.graph), 0);
}

TEST(RmsNormFusion, FusedModelComputesTheNormAsADivision) {
  // 770 values a row (not a multiple of 16) and 512 (T5-small's width); a float64 reference.
  for (int64_t n : {int64_t{512}, int64_t{770}}) {
    Session s(decomposed_rms_norm(1e-6f, 0, n));
    EXPECT_EQ(count_op(s.model().graph, "SimplifiedLayerNormalization"), 1);
    for (const char* op : {"ReduceMean", "Pow", "Sqrt", "Div", "Mul"}) EXPECT_EQ(count_op(s.model().graph, op), 0) << op;
    std::vector<float> x(2 * n);
    for (int64_t i = 0; i < 2 * n; ++i) x[i] = std::sin(0.37f * (float)i) * (i < n ? 3.f : 0.01f);
    auto y = s.run({{"x", Tensor::from_vector<float>({2, n}, x)}}).at("y");
    for (int64_t r = 0; r < 2; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += (double)x[r * n + i] * x[r * n + i];
      const double root = std::sqrt(ss / (double)n + 1e-6);
      for (int64_t i = 0; i < n; ++i) {
        const double want = (double)x[r * n + i] / root * (0.5 + 0.25 * (double)i);
        EXPECT_NEAR(y.data<float>()[r * n + i], want, 4e-7 * std::fabs(want) + 1e-30) << "row " << r << " at " << i;
      }
    }
  }
}

Model exported_gelu(bool with_bias, bool half_first) {
  GraphBuilder b("gelu", 13);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{3, ""}});
  if (with_bias) x = b.op("Add", {x, b.initializer("bias", vec({0.1f, -0.2f, 0.3f}))});
  std::string e = b.op("Erf", {b.op("Div", {x, b.const_f32(1.4142135f)})});
  std::string one_plus = b.op("Add", {e, b.const_f32(1.0f)});
  std::string y = half_first ? b.op("Mul", {b.op("Mul", {x, b.const_f32(0.5f)}), one_plus})
                             : b.op("Mul", {b.op("Mul", {x, one_plus}), b.const_f32(0.5f)});
  b.output(y, "y", DType::F32, {Dim{1, ""}, Dim{3, ""}});
  return b.finish();
}

TEST(GeluFusion, FusesBothOrdersAndTheBias) {
  for (bool half_first : {false, true}) {
    Model m = exported_gelu(false, half_first);
    EXPECT_EQ(fuse_gelu(m.graph), 1);
    EXPECT_EQ(op_types(m.graph)[0], "com.microsoft:Gelu");
    Model mb = exported_gelu(true, half_first);
    EXPECT_EQ(fuse_gelu(mb.graph), 1);
    EXPECT_EQ(op_types(mb.graph)[0], "com.microsoft:BiasGelu");
    EXPECT_EQ(mb.graph.nodes[0].inputs[1], "bias");
  }
}

TEST(GeluFusion, FusedModelComputesGelu) {
  Session s(exported_gelu(true, false));
  // The bias Add and the Erf pattern became one BiasGelu in the session's graph.
  const Graph& g = s.model().graph;
  EXPECT_EQ(count_op(g, "BiasGelu"), 1);
  for (const char* op : {"Gelu", "Erf", "Div", "Add", "Mul"}) EXPECT_EQ(count_op(g, op), 0) << op;
  auto y = s.run({{"x", Tensor::from_vector<float>({1, 3}, {1.0f, 0.0f, -2.0f})}}).at("y");
  std::vector<double> in = {1.1, -0.2, -1.7};
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(y.data<float>()[i], 0.5 * in[i] * (1 + std::erf(in[i] / std::sqrt(2.0))), 1e-6);
}

}  // namespace
