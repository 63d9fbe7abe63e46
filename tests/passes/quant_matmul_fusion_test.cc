// MatMulInteger -> Cast -> Mul(scales) fusion on ONNX Runtime's own quantizer output (the shared
// fixture); the fused graph's outputs are checked against ONNX Runtime's in kernels/quant_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op;
  return n;
}

TEST(MatMulIntegerToFloatFusion, FusesEveryQuantizedMatMulOfOnnxRuntimesQuantizer) {
  Model m = load_model(test::fixture("models/bert-tiny/model_quantized.onnx"));
  int before = count_ops(m.graph, "MatMulInteger");
  ASSERT_GT(before, 0);
  int casts = count_ops(m.graph, "Cast");
  EXPECT_EQ(fuse_matmul_integer_to_float(m.graph), before);
  EXPECT_EQ(count_ops(m.graph, "MatMulInteger"), 0);
  EXPECT_EQ(count_ops(m.graph, "MatMulIntegerToFloat"), before);
  EXPECT_EQ(count_ops(m.graph, "Cast"), casts - before);
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "MatMulIntegerToFloat") {
      EXPECT_EQ(n.domain, "com.microsoft");
      // a, b, a_scale, b_scale, a_zero_point, b_zero_point (+ bias when an Add followed)
      EXPECT_TRUE(n.inputs.size() == 6u || n.inputs.size() == 7u);
    }
  // Idempotent: nothing left to fuse.
  EXPECT_EQ(fuse_matmul_integer_to_float(m.graph), 0);
}

TEST(MatMulIntegerToFloatFusion, LeavesAnIntegerResultAlone) {
  // MatMulInteger whose int32 result is a graph output: nothing to fuse.
  Model m;
  m.set_opset("", 13);
  Node n;
  n.op_type = "MatMulInteger";
  n.inputs = {"a", "b"};
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  m.graph.initializers["b"] = Tensor::zeros(DType::I8, {2, 2});
  m.graph.inputs.push_back(ValueInfo{"a", DType::U8});
  m.graph.outputs.push_back(ValueInfo{"y", DType::I32});
  EXPECT_EQ(fuse_matmul_integer_to_float(m.graph), 0);
  EXPECT_EQ(m.graph.nodes.size(), 1u);
}

}  // namespace

namespace {

TEST(MatMulIntegerToFloatFusion, AbsorbsTheBiasAdd) {
  // Every quantized Linear of the fixture is followed by its bias Add.
  Model m = load_model(test::fixture("models/bert-tiny/model_quantized.onnx"));
  int adds = count_ops(m.graph, "Add");
  int fused = fuse_matmul_integer_to_float(m.graph);
  int with_bias = 0;
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "MatMulIntegerToFloat") with_bias += n.inputs.size() == 7;
  EXPECT_GT(with_bias, 0);
  EXPECT_EQ(count_ops(m.graph, "Add"), adds - with_bias);
  EXPECT_LE(with_bias, fused);
}

TEST(MatMulBiasFusion, FusesLinearLayersAndKeepsOutputs) {
  // fp32 bert-tiny: every MatMul with a constant weight and bias becomes kiln:MatMulBias, and the
  // session's outputs still match PyTorch's reference.
  Model m = load_model(test::fixture("models/bert-tiny/model.onnx"));
  Model copy = load_model(test::fixture("models/bert-tiny/model.onnx"));
  int fused = fuse_matmul_bias(m.graph);
  EXPECT_GT(fused, 0);
  EXPECT_EQ(count_ops(m.graph, "MatMulBias"), fused);
  const int matmuls = count_ops(copy.graph, "MatMul");
  Session s(std::move(copy));  // level 2 runs the pass itself
  // The session's graph (constants folded first, so more weights are initializers than in the file)
  // holds fused nodes, each replacing one MatMul (kiln:Attention two: Q.K^T and .V, and three more
  // when it makes its Q, K, V projections), and no MatMul with a constant weight is left feeding an
  // Add of a constant (the unfused pattern).
  const Graph& g = s.model().graph;
  int projected = 0;
  for (const auto& n : g.nodes) projected += n.op_type == "Attention" && n.attributes.count("projections");
  EXPECT_GE(count_ops(g, "MatMulBias") + 3 * projected, fused);
  EXPECT_GT(count_ops(g, "Attention"), 0);
  EXPECT_EQ(projected, count_ops(g, "Attention"));  // bert-tiny's projections all go into its attention
  EXPECT_EQ(count_ops(g, "MatMulBias") + count_ops(g, "MatMul") + 2 * count_ops(g, "Attention") + 3 * projected,
            matmuls);
  for (const auto& mm : g.nodes) {
    if (mm.op_type != "MatMul" || !g.is_initializer(mm.inputs[1])) continue;
    for (const auto& add : g.nodes) {
      if (add.op_type != "Add" || std::find(add.inputs.begin(), add.inputs.end(), mm.outputs[0]) == add.inputs.end()) continue;
      EXPECT_FALSE(g.is_initializer(add.inputs[0]) || g.is_initializer(add.inputs[1]))
          << "unfused MatMul " << mm.name << " + bias Add " << add.name;
    }
  }
  for (int c = 0; c < 2; ++c) {
    std::string dir = test::fixture("models/bert-tiny/ref/case" + std::to_string(c));
    NamedTensors want = read_tensors_json(dir + "_outputs.json");
    NamedTensors got = s.run(read_tensors_json(dir + "_inputs.json"));
    for (const auto& [name, ref] : want) EXPECT_LE(test::relative_error(got.at(name), ref), 1e-4) << name;
  }
}

}  // namespace
