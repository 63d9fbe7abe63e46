// The GELU epilogue fusion: a Linear layer followed by the exported erf GELU runs as one product
// whose epilogue applies bias and GELU, in float (kiln:MatMulBias) and int8
// (kiln:MatMulIntegerToFloat). Each test checks that the fused op is what the session runs and
// compares its values with an independent reference (double-precision formula, ONNX Runtime).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "quantize/presets.h"
#include "quantize/quantize_model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

constexpr int64_t kRows = 5, kIn = 40, kOut = 70;  // 70: the last 32-column panel is partly used

Tensor random_tensor(Shape s, uint32_t seed, float scale) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(g);
  return t;
}

// x -> MatMul(W) -> Add(b) -> x * 0.5 * (1 + erf(x / sqrt 2)), as torch.onnx.export writes a Linear + GELU;
// extra_reader adds a second graph output reading the product before the GELU.
Model linear_gelu(bool extra_reader = false) {
  GraphBuilder b("ffn", 13);
  std::string x = b.input("x", DType::F32, {Dim{kRows, ""}, Dim{kIn, ""}});
  std::string h = b.op("MatMul", {x, b.initializer("W", random_tensor({kIn, kOut}, 1, 0.3f))});
  h = b.op("Add", {h, b.initializer("b", random_tensor({kOut}, 2, 0.5f))});
  std::string e = b.op("Erf", {b.op("Div", {h, b.const_f32(1.4142135f)})});
  std::string y = b.op("Mul", {b.op("Mul", {h, b.op("Add", {e, b.const_f32(1.0f)})}), b.const_f32(0.5f)});
  b.output(y, "y", DType::F32, {Dim{kRows, ""}, Dim{kOut, ""}});
  Model m = b.finish();
  if (extra_reader) {
    for (const auto& n : m.graph.nodes)
      if (n.op_type == "MatMul") m.graph.outputs.push_back({n.outputs[0], DType::F32, std::nullopt});
  }
  return m;
}

const Node* find_op(const Graph& g, const std::string& domain, const std::string& op) {
  for (const auto& node : g.nodes)
    if (node.op_type == op && canonical_domain(node.domain) == domain) return &node;
  return nullptr;
}

TEST(MatMulGeluFusion, FloatLinearGeluIsOneProduct) {
  Model m = linear_gelu();
  const Tensor W = m.graph.initializers.at("W"), bias = m.graph.initializers.at("b");
  Session s(m);
  const Graph& g = s.model().graph;
  const Node* fused = find_op(g, "kiln", "MatMulBias");
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->attr_string("activation", ""), "Gelu");
  for (const char* op : {"BiasGelu", "Gelu"}) EXPECT_EQ(test::count_op(g, "com.microsoft", op), 0) << op;
  for (const char* op : {"MatMul", "Add", "Erf", "Mul"}) EXPECT_EQ(test::count_op(g, "", op), 0) << op;

  Tensor x = random_tensor({kRows, kIn}, 3, 1.f);
  Tensor y = s.run({{"x", x}}).at("y");
  double worst = 0, scale = 0;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t n = 0; n < kOut; ++n) {
      double h = bias.data<float>()[n];
      for (int64_t k = 0; k < kIn; ++k) h += (double)x.data<float>()[r * kIn + k] * W.data<float>()[k * kOut + n];
      double want = 0.5 * h * (1 + std::erf(h / std::sqrt(2.0)));
      worst = std::max(worst, std::fabs(y.data<float>()[r * kOut + n] - want));
      scale = std::max(scale, std::fabs(want));
    }
  EXPECT_LE(worst / scale, 1e-5);
}

TEST(MatMulGeluFusion, Int8LinearGeluMatchesOnnxRuntime) {
  Model q = linear_gelu();
  quantize::quantize_model(q, quantize::preset_options("avx512_vnni", false));
  Session s(q);
  const Node* fused = find_op(s.model().graph, "kiln", "MatMulIntegerToFloat");
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->attr_string("activation", ""), "Gelu");
  EXPECT_EQ(test::count_op(s.model().graph, "com.microsoft", "BiasGelu"), 0);
  EXPECT_EQ(test::count_op(s.model().graph, "com.microsoft", "MatMulIntegerToFloat"), 0);

  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  auto dir = std::filesystem::temp_directory_path() / ("kiln-mmgelu-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(q, (dir / "q.onnx").string());
  NamedTensors feeds{{"x", random_tensor({kRows, kIn}, 4, 1.f)}};
  Tensor ort = test::run_ort((dir / "q.onnx").string(), feeds, dir.string()).at("y");
  EXPECT_LE(test::relative_error(s.run(feeds).at("y"), ort), 1e-5);
  std::filesystem::remove_all(dir);
}

TEST(MatMulGeluFusion, ProductWithAnotherReaderIsLeftAlone) {
  Model m = linear_gelu(true);
  Session s(m);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "MatMulBias"), 0);
  EXPECT_EQ(test::count_op(s.model().graph, "com.microsoft", "BiasGelu"), 1);
}

}  // namespace
