// Merged decoders keep their graphs in If branches that read the outer graph's weights: those
// MatMuls are quantized too, with the 8-bit weights stored once in the outer graph.
#include <gtest/gtest.h>

#include <filesystem>

#include "graph/onnx_io.h"
#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize_model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::quantize;

namespace {

std::shared_ptr<Graph> branch(const std::string& name, bool relu) {
  auto g = std::make_shared<Graph>();
  g->name = name;
  std::string y = relu ? name + "_mm" : name + "_out";
  g->nodes.push_back(qtest::node("MatMul", {"X", "W"}, {y}, name + "_matmul"));
  if (relu) g->nodes.push_back(qtest::node("Relu", {y}, {name + "_out"}, name + "_relu"));
  g->outputs = {qtest::value(name + "_out", DType::F32, {2, 6})};
  return g;
}

}  // namespace

TEST(Subgraphs, IfBranchesReadingOuterWeightsAreQuantized) {
  Model m;
  m.opsets = {{"", 13}};
  m.graph.inputs = {qtest::value("X", DType::F32, {2, 8}), qtest::value("use_cache", DType::Bool, {})};
  m.graph.outputs = {qtest::value("Y", DType::F32, {2, 6})};
  m.graph.initializers["W"] = qtest::random_matrix(8, 6, 21);
  Node n = qtest::node("If", {"use_cache"}, {"Y"}, "if");
  Attribute a, b;
  a.kind = b.kind = Attribute::Kind::Graph;
  a.g = branch("then", false);
  b.g = branch("else", true);
  n.attributes["then_branch"] = a;
  n.attributes["else_branch"] = b;
  m.graph.nodes.push_back(n);

  Model q = m;
  // deep-copy the branches so the float model keeps its own
  for (auto& [k, attr] : q.graph.nodes[0].attributes) attr.g = std::make_shared<Graph>(*attr.g);
  GraphStats st = quantize_model(q, preset_options("avx512_vnni", false));
  EXPECT_EQ(st.quantized["MatMul"], 2);
  EXPECT_EQ(q.graph.initializers.count("W"), 0u);  // only the 8-bit copy is left, once
  int int8 = 0;
  for (const auto& [name, t] : q.graph.initializers) int8 += t.dtype() == DType::I8 && t.numel() == 48;
  EXPECT_EQ(int8, 1);
  const Graph& then_g = *q.graph.nodes[0].attributes.at("then_branch").g;
  EXPECT_EQ(qtest::count_ops(then_g, "MatMulInteger"), 1);
  EXPECT_EQ(qtest::count_ops(then_g, "DynamicQuantizeLinear"), 1);

  Session fs32(m), fq(q);
  Tensor x = qtest::random_matrix(2, 8, 22);
  for (bool c : {true, false}) {
    NamedTensors feeds{{"X", x}, {"use_cache", Tensor::scalar<bool>(c)}};
    Tensor a0 = fs32.run(feeds).at("Y"), b0 = fq.run(feeds).at("Y");
    EXPECT_LT(test::relative_error(b0, a0), 0.03) << c;
  }

  // ONNX Runtime runs the same file (when the peer is installed: make peers) with kiln's result.
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  auto dir = std::filesystem::temp_directory_path() / ("kiln-if-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(q, (dir / "if.onnx").string());
  NamedTensors feeds{{"X", x}, {"use_cache", Tensor::scalar<bool>(false)}};
  Tensor ort = test::run_ort((dir / "if.onnx").string(), feeds, dir.string()).at("Y");
  EXPECT_LT(test::relative_error(fq.run(feeds).at("Y"), ort), 1e-5);
  std::filesystem::remove_all(dir);
}
