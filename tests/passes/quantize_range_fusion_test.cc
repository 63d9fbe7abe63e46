// kiln:DynamicQuantizeLinear with its input's range written by the producer
// (passes/quantize_range_fusion.cc): the rewrite happens for LayerNormalization, MatMulIntegerToFloat
// (plain and with the GELU epilogue), through a Reshape, and for kiln:Attention in a quantized
// DistilBERT; the quantized values, scale and zero point are exactly those ONNX's
// DynamicQuantizeLinear computes from the same float values (the session's own pre-quantization
// output, run through the plain kernel).
#include <gtest/gtest.h>

#include <random>

#include "export/graph_builder.h"
#include "kernels/single_node.h"
#include "passes/passes.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

// y (float, a graph output) -> [Reshape ->] DynamicQuantizeLinear -> q, s, zp; checks the session
// rewrote the quantization and that q, s, zp equal the plain kernel's on the session's own y.
void check_quantization(Model m, const std::string& y, bool reshape, const NamedTensors& feeds,
                        const std::string& producer_op) {
  Graph& g = m.graph;
  std::string src = y;
  if (reshape) {
    Node r;
    r.op_type = "Reshape";
    r.name = "flat";
    r.inputs = {y, "flat_shape"};
    r.outputs = {"y_flat"};
    g.initializers["flat_shape"] = Tensor::from_vector<int64_t>({1}, {-1});
    g.nodes.push_back(r);
    src = "y_flat";
  }
  Node q;
  q.op_type = "DynamicQuantizeLinear";
  q.name = "dql";
  q.inputs = {src};
  q.outputs = {"q", "s", "zp"};
  g.nodes.push_back(q);
  for (const char* o : {"q", "s", "zp"}) g.outputs.push_back({o, DType::Undefined, std::nullopt});
  g.outputs.push_back({y, DType::F32, std::nullopt});

  SessionOptions opt;
  opt.threads = 2;
  Session s(m, opt);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "DynamicQuantizeLinear"), 1);
  EXPECT_EQ(test::count_op(s.model().graph, "", "DynamicQuantizeLinear"), 0);
  bool tagged = false;
  for (const auto& n : s.model().graph.nodes) tagged |= n.op_type == producer_op && n.attributes.count("range_output");
  EXPECT_TRUE(tagged) << producer_op;

  NamedTensors got = s.run(feeds);
  Tensor yv = got.at(y);
  auto want = test::run_single_node({"DynamicQuantizeLinear", "", {}, 13, 3}, {yv});
  ASSERT_EQ(want.size(), 3u);
  ASSERT_EQ(got.at("q").numel(), yv.numel());
  EXPECT_EQ(got.at("s").data<float>()[0], want[1].data<float>()[0]);
  EXPECT_EQ(got.at("zp").data<uint8_t>()[0], want[2].data<uint8_t>()[0]);
  int64_t differ = 0;
  for (int64_t i = 0; i < yv.numel(); ++i) differ += got.at("q").data<uint8_t>()[i] != want[0].data<uint8_t>()[i];
  EXPECT_EQ(differ, 0);
}

TEST(QuantizeRangeFusion, LayerNormalization) {
  for (bool reshape : {false, true}) {
    GraphBuilder b("ln", 17);
    std::string x = b.input("x", DType::F32, {Dim{37, ""}, Dim{301, ""}});
    std::string y = b.op("LayerNormalization",
                         {x, b.initializer("gamma", test::normal_tensor({301}, 1, 1.f)),
                          b.initializer("beta", test::normal_tensor({301}, 2, 1.f))},
                         {{"axis", attr_int(-1)}});
    check_quantization(b.finish(), y, reshape, {{"x", test::normal_tensor({37, 301}, 3, 2.f)}}, "LayerNormalization");
  }
}

// u8 A x constant s8 B with scales and a zero point, optionally followed by BiasGelu (fused into the
// product's epilogue: kiln:MatMulIntegerToFloat {activation: Gelu}).
Model int8_product(bool gelu) {
  GraphBuilder b("mm", 17);
  std::string a = b.input("a", DType::U8, {Dim{50, ""}, Dim{40, ""}});
  std::mt19937 rng(4);
  Tensor w(DType::I8, {40, 70});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = (int8_t)rng();
  std::string y = b.op("MatMulIntegerToFloat",
                       {a, b.initializer("w", w), b.initializer("a_scale", Tensor::scalar<float>(0.01f)),
                        b.initializer("b_scale", Tensor::scalar<float>(0.02f)),
                        b.initializer("a_zp", Tensor::scalar<uint8_t>(120))},
                       {}, "com.microsoft");
  if (gelu) y = b.op("BiasGelu", {y, b.initializer("bias", test::normal_tensor({70}, 5, 0.5f))}, {}, "com.microsoft");
  Model m = b.finish();
  m.set_opset("com.microsoft", 1);
  return m;
}

Tensor random_u8(Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(DType::U8, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = (uint8_t)rng();
  return t;
}

TEST(QuantizeRangeFusion, MatMulIntegerToFloat) {
  for (bool gelu : {false, true})
    for (bool reshape : {false, true}) {
      SCOPED_TRACE(std::string(gelu ? "gelu" : "plain") + (reshape ? " reshape" : ""));
      Model m = int8_product(gelu);
      std::string y = m.graph.nodes.back().outputs[0];
      check_quantization(std::move(m), y, reshape, {{"a", random_u8({50, 40}, 6)}}, "MatMulIntegerToFloat");
    }
}

// ONNX Runtime's quantized DistilBERT: the quantizations of the LayerNormalization and attention outputs
// take their range from them (its outputs against ONNX Runtime's: tests/runtime/golden_test.cc).
TEST(QuantizeRangeFusion, QuantizedDistilBert) {
  const std::string dir = test::fixture("models/distilbert-tiny");
  Session s(dir + "/model_quantized.onnx");
  const Graph& g = s.model().graph;
  EXPECT_GT(test::count_op(g, "kiln", "DynamicQuantizeLinear"), 0);
  int attention = 0, ln = 0;
  for (const auto& n : g.nodes) {
    if (!n.attributes.count("range_output")) continue;
    attention += n.op_type == "Attention";
    ln += n.op_type == "LayerNormalization";
  }
  EXPECT_GT(attention, 0);
  EXPECT_GT(ln, 0);
}

}  // namespace
