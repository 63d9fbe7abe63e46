// The graphs each preset emits: node types, dtypes, and scale / zero-point values computed here
// from the weights with ONNX Runtime's formulas (max|w| / 127 for s8 symmetric, ...).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize_model.h"

using namespace kiln;
using namespace kiln::quantize;
using namespace kiln::qtest;

namespace {

float absmax(const Tensor& t) {
  float m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data<float>()[i]));
  return m;
}

const Tensor& init(const Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end()) throw std::runtime_error("no initializer " + name);
  return it->second;
}

}  // namespace

TEST(Presets, OptimumDefaults) {
  for (const auto& name : preset_names()) {
    Options o = preset_options(name, false);
    EXPECT_EQ(o.activation_type, name == "tensorrt" ? DType::I8 : DType::U8) << name;
    EXPECT_EQ(o.weight_type, name == "avx2" ? DType::U8 : DType::I8) << name;
    EXPECT_TRUE(o.weight_symmetric) << name;
    EXPECT_EQ(o.activation_symmetric, name == "tensorrt") << name;
    EXPECT_FALSE(o.per_channel) << name;
    EXPECT_FALSE(o.reduce_range) << name;
    EXPECT_EQ(o.is_static, name == "tensorrt") << name;
    EXPECT_EQ(o.format, name == "tensorrt" ? Format::QDQ : Format::QOperator) << name;
  }
  EXPECT_EQ(preset_options("avx512", true).format, Format::QDQ);
  EXPECT_THROW(preset_options("avx3", false), BadInput);
}

TEST(Presets, StaticWithoutCalibrationIsRefused) {
  Options o = preset_options("avx512_vnni", true);
  try {
    validate_options(o);
    FAIL() << "no error";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("--calibration-data"), std::string::npos);
  }
}

TEST(DynamicQOperator, Avx512VnniEmitsMatMulIntegerWithOrtScales) {
  Model m = mlp_model();
  Tensor w0 = init(m.graph, "W0").clone(), w1 = init(m.graph, "W1").clone();
  GraphStats st = quantize_model(m, preset_options("avx512_vnni", false));
  const Graph& g = m.graph;
  EXPECT_EQ(count_ops(g, "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(count_ops(g, "MatMulInteger"), 2);
  EXPECT_EQ(count_ops(g, "Gemm"), 0);
  EXPECT_EQ(count_ops(g, "MatMul"), 1);  // h x h^T has no constant weight
  EXPECT_EQ(st.quantized["MatMul"], 1);
  EXPECT_EQ(st.quantized["Gemm"], 1);
  EXPECT_EQ(st.left_float["MatMul"], 1);
  EXPECT_EQ(g.initializers.count("W0"), 0u);  // float weights dropped
  EXPECT_EQ(g.initializers.count("W1"), 0u);
  EXPECT_EQ(m.opset(""), 13);

  // fc0: MatMulInteger(X_quantized, W0_quantized, X_zero_point, W0_zero_point) -> Cast -> Mul(scale product)
  const Node* mul = producer(g, "h0");
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(mul->op_type, "Mul");
  const Node* cast = producer(g, mul->inputs[0]);
  ASSERT_EQ(cast->op_type, "Cast");
  EXPECT_EQ(cast->attr_int("to", 0), 1);
  const Node* mmi = producer(g, cast->inputs[0]);
  ASSERT_EQ(mmi->op_type, "MatMulInteger");
  ASSERT_EQ(mmi->inputs.size(), 4u);
  const Node* dql = producer(g, mmi->inputs[0]);
  ASSERT_EQ(dql->op_type, "DynamicQuantizeLinear");
  EXPECT_EQ(dql->inputs[0], "X");
  EXPECT_EQ(mmi->inputs[2], dql->outputs[2]);
  const Tensor& q0 = init(g, mmi->inputs[1]);
  EXPECT_EQ(q0.dtype(), DType::I8);
  EXPECT_EQ(q0.shape(), (Shape{8, 6}));
  const Tensor& zp0 = init(g, mmi->inputs[3]);
  EXPECT_EQ(zp0.dtype(), DType::I8);
  EXPECT_EQ(zp0.numel(), 1);
  EXPECT_EQ(zp0.data<int8_t>()[0], 0);
  const Node* smul = producer(g, mul->inputs[1]);
  ASSERT_EQ(smul->op_type, "Mul");
  EXPECT_EQ(smul->inputs[0], dql->outputs[1]);
  float s0 = init(g, smul->inputs[1]).data<float>()[0];
  EXPECT_NEAR(s0, absmax(w0) / 127.0f, 1e-7);
  for (int64_t i = 0; i < w0.numel(); ++i)
    EXPECT_EQ(q0.data<int8_t>()[i], (int8_t)std::nearbyint(w0.data<float>()[i] / s0)) << i;

  // fc1 (Gemm transB, alpha 0.5): weight transposed to [6, 4] with alpha folded in, bias added after.
  const Node* add = producer(g, "Y");
  ASSERT_EQ(add->op_type, "Add");
  EXPECT_EQ(add->inputs[1], "b1");
  const Node* mul1 = producer(g, add->inputs[0]);
  const Node* mmi1 = producer(g, producer(g, mul1->inputs[0])->inputs[0]);
  ASSERT_EQ(mmi1->op_type, "MatMulInteger");
  const Tensor& q1 = init(g, mmi1->inputs[1]);
  EXPECT_EQ(q1.shape(), (Shape{6, 4}));
  float s1 = init(g, producer(g, mul1->inputs[1])->inputs[1]).data<float>()[0];
  EXPECT_NEAR(s1, 0.5f * absmax(w1) / 127.0f, 1e-7);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j)
      EXPECT_EQ(q1.data<int8_t>()[j * 4 + i], (int8_t)std::nearbyint(0.5f * w1.data<float>()[i * 6 + j] / s1));
  EXPECT_TRUE(st.warnings.empty());
}

TEST(DynamicQOperator, SharedInputIsQuantizedOnce) {
  Model m = mlp_model();
  m.graph.initializers["W2"] = random_matrix(8, 6, 3);
  m.graph.nodes.insert(m.graph.nodes.begin() + 1, node("MatMul", {"X", "W2"}, {"h2"}, "fc2"));
  m.graph.outputs.push_back(value("h2", DType::F32, {-1, 6}));
  quantize_model(m, preset_options("avx512", false));
  EXPECT_EQ(count_ops(m.graph, "DynamicQuantizeLinear"), 2);  // X once, h once
  EXPECT_EQ(count_ops(m.graph, "MatMulInteger"), 3);
}

TEST(DynamicQOperator, Avx2UsesSymmetricUint8Weights) {
  Model m = mlp_model();
  Tensor w0 = init(m.graph, "W0").clone();
  quantize_model(m, preset_options("avx2", false));
  const Graph& g = m.graph;
  const Node* mmi = producer(g, producer(g, producer(g, "h0")->inputs[0])->inputs[0]);
  ASSERT_EQ(mmi->op_type, "MatMulInteger");
  const Tensor& q = init(g, mmi->inputs[1]);
  EXPECT_EQ(q.dtype(), DType::U8);
  EXPECT_EQ(init(g, mmi->inputs[3]).data<uint8_t>()[0], 127);
  float s = init(g, producer(g, producer(g, "h0")->inputs[1])->inputs[1]).data<float>()[0];
  EXPECT_NEAR(s, 2 * absmax(w0) / 254.0f, 1e-7);
  for (int64_t i = 0; i < w0.numel(); ++i)
    EXPECT_EQ(q.data<uint8_t>()[i], (uint8_t)(std::nearbyint(w0.data<float>()[i] / s) + 127));
}

TEST(DynamicQOperator, PerChannelAndReduceRange) {
  Model m = mlp_model();
  Tensor w0 = init(m.graph, "W0").clone();
  Options o = preset_options("avx512", false);
  o.per_channel = true;
  o.reduce_range = true;
  quantize_model(m, o);
  const Graph& g = m.graph;
  const Node* mul = producer(g, "h0");
  const Node* mmi = producer(g, producer(g, mul->inputs[0])->inputs[0]);
  const Tensor& scale = init(g, producer(g, mul->inputs[1])->inputs[1]);
  ASSERT_EQ(scale.shape(), (Shape{6}));
  EXPECT_EQ(init(g, mmi->inputs[3]).shape(), (Shape{6}));
  for (int64_t c = 0; c < 6; ++c) {
    float mx = 0;
    for (int64_t r = 0; r < 8; ++r) mx = std::max(mx, std::fabs(w0.data<float>()[r * 6 + c]));
    EXPECT_NEAR(scale.data<float>()[c], mx / 64.0f, 1e-7) << c;  // reduced range [-64, 64]
  }
}

TEST(DynamicQDQ, WeightsAndActivationsThroughDequantizeLinear) {
  Model m = mlp_model();
  Options o = preset_options("avx512_vnni", false);
  o.format = Format::QDQ;
  o.per_channel = true;
  quantize_model(m, o);
  const Graph& g = m.graph;
  EXPECT_EQ(count_ops(g, "MatMulInteger"), 0);
  EXPECT_EQ(count_ops(g, "Gemm"), 1);
  const Node* mm = producer(g, "h0");
  ASSERT_EQ(mm->op_type, "MatMul");
  const Node* a = producer(g, mm->inputs[0]);
  const Node* w = producer(g, mm->inputs[1]);
  ASSERT_EQ(a->op_type, "DequantizeLinear");
  ASSERT_EQ(w->op_type, "DequantizeLinear");
  EXPECT_EQ(producer(g, a->inputs[0])->op_type, "DynamicQuantizeLinear");
  EXPECT_EQ(w->attr_int("axis", -5), 1);
  EXPECT_EQ(init(g, w->inputs[0]).dtype(), DType::I8);
  // Gemm keeps transB: its [4, 6] weight is quantized per row (axis 0).
  const Node* gemm = producer(g, "Y");
  ASSERT_EQ(gemm->op_type, "Gemm");
  EXPECT_EQ(producer(g, gemm->inputs[1])->attr_int("axis", -5), 0);
  EXPECT_EQ(init(g, producer(g, gemm->inputs[1])->inputs[1]).shape(), (Shape{4}));
}

TEST(Embeddings, GatherTableStoredInt8WithDequantizeAfter) {
  Model m;
  m.opsets = {{"", 13}};
  m.graph.inputs = {value("ids", DType::I64, {-1, 5})};
  m.graph.outputs = {value("E", DType::F32, {-1, 5, 64})};
  m.graph.initializers["table"] = random_matrix(100, 64, 4);
  m.graph.initializers["tiny"] = random_matrix(8, 4, 5);
  m.graph.nodes.push_back(node("Gather", {"table", "ids"}, {"E"}, "embed"));
  m.graph.nodes.push_back(node("Gather", {"tiny", "ids"}, {"T"}, "small"));
  m.graph.outputs.push_back(value("T", DType::F32, {-1, 5, 4}));
  Tensor t = init(m.graph, "table").clone();
  Options o = preset_options("avx512_vnni", false);
  GraphStats none = quantize_model(m, o);  // embeddings not asked for: nothing to do
  EXPECT_EQ(none.total_quantized(), 0);
  ASSERT_FALSE(none.warnings.empty());
  EXPECT_NE(none.warnings.back().find("nothing to quantize"), std::string::npos);
  o.quantize_embeddings = true;
  {
    // Every float table by default, as ONNX Runtime's quantizer does (token-type tables are tiny).
    Model all = m;
    GraphStats st = quantize_model(all, o);
    EXPECT_EQ(st.quantized["Gather"], 2);
    EXPECT_EQ(all.graph.initializers.count("tiny"), 0u);
    EXPECT_EQ(producer(all.graph, "T")->op_type, "DequantizeLinear");
  }
  o.min_embedding_elements = 33;  // --min-embedding-elements: the 32-value table stays float
  GraphStats st = quantize_model(m, o);
  EXPECT_EQ(st.quantized["Gather"], 1);
  EXPECT_EQ(st.left_float["Gather"], 1);
  const Node* dq = producer(m.graph, "E");
  ASSERT_EQ(dq->op_type, "DequantizeLinear");
  const Node* gather = producer(m.graph, dq->inputs[0]);
  ASSERT_EQ(gather->op_type, "Gather");
  const Tensor& q = init(m.graph, gather->inputs[0]);
  EXPECT_EQ(q.dtype(), DType::I8);
  EXPECT_NEAR(init(m.graph, dq->inputs[1]).data<float>()[0], absmax(t) / 127.0f, 1e-7);
  EXPECT_EQ(m.graph.initializers.count("table"), 0u);
  EXPECT_EQ(m.graph.initializers.count("tiny"), 1u);
}

TEST(Selection, ExcludedNodesStayFloat) {
  Model m = mlp_model();
  Options o = preset_options("avx512_vnni", false);
  o.nodes_to_exclude = {"fc1"};
  GraphStats st = quantize_model(m, o);
  EXPECT_EQ(count_ops(m.graph, "Gemm"), 1);
  EXPECT_EQ(count_ops(m.graph, "MatMulInteger"), 1);
  EXPECT_EQ(m.graph.initializers.count("W1"), 1u);
  EXPECT_EQ(st.quantized["Gemm"], 0);
}

TEST(Opset, OldOpsetIsRaisedTo11ForDynamic) {
  Model m = mlp_model(9);
  GraphStats st = quantize_model(m, preset_options("avx512_vnni", false));
  EXPECT_EQ(m.opset(""), 11);
  ASSERT_FALSE(st.warnings.empty());
}
