// The Conv + activation fusion: which pairs become com.microsoft:FusedConv, and which are left alone
// (a Conv output read elsewhere, Clip bounds that are not constants, non-float weights). The values
// of fused convolutions are checked against ONNX Runtime in tests/kernels/conv_ort_test.cc.
#include <gtest/gtest.h>

#include "../bench/cnn_graph.h"
#include "export/graph_builder.h"
#include "passes/passes.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

Tensor filled(Shape s, float v) {
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}

int count(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op;
  return n;
}

const Node* find(const Graph& g, const std::string& op) {
  for (const auto& node : g.nodes)
    if (node.op_type == op) return &node;
  return nullptr;
}

std::map<std::string, Attribute> k1() { return {{"kernel_shape", attr_ints({1, 1})}}; }

TEST(ConvActivationFusion, Relu6ClipBecomesFusedConvWithItsBounds) {
  GraphBuilder b("g", 17);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
  std::string y = b.op("Conv", {x, b.initializer("w", filled({4, 4, 1, 1}, 0.5f))}, k1());
  y = b.op("Clip", {y, b.const_f32(0.f), b.const_f32(6.f)});
  b.output(y, "y", DType::F32, {});
  Model m = b.finish();
  EXPECT_EQ(fuse_conv_activation(m.graph), 1);
  const Node* f = find(m.graph, "FusedConv");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->domain, "com.microsoft");
  EXPECT_EQ(f->attr_string("activation", ""), "Clip");
  EXPECT_EQ(f->attr_floats("activation_params"), (std::vector<float>{0.f, 6.f}));
  EXPECT_EQ(f->attr_ints("kernel_shape"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(count(m.graph, "Clip"), 0);
  EXPECT_EQ(count(m.graph, "Conv"), 0);
}

TEST(ConvActivationFusion, EachActivationKindFuses) {
  for (std::string act : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish"}) {
    GraphBuilder b("g", 17);
    std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
    std::string y = b.op(act, {b.op("Conv", {x, b.initializer("w", filled({4, 4, 1, 1}, 0.5f))}, k1())});
    b.output(y, "y", DType::F32, {});
    Model m = b.finish();
    EXPECT_EQ(fuse_conv_activation(m.graph), 1) << act;
    ASSERT_NE(find(m.graph, "FusedConv"), nullptr) << act;
    EXPECT_EQ(find(m.graph, "FusedConv")->attr_string("activation", ""), act);
  }
}

TEST(ConvActivationFusion, LeavesConvsWhoseOutputIsReadElsewhere) {
  GraphBuilder b("g", 17);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
  std::string c = b.op("Conv", {x, b.initializer("w", filled({4, 4, 1, 1}, 0.5f))}, k1());
  b.output(b.op("Relu", {c}), "y", DType::F32, {});
  b.output(b.op("Add", {c, x}), "z", DType::F32, {});  // a residual branch reads the Conv too
  Model m = b.finish();
  EXPECT_EQ(fuse_conv_activation(m.graph), 0);
  EXPECT_EQ(count(m.graph, "Conv"), 1);
}

TEST(ConvActivationFusion, LeavesClipWithRunTimeBoundsAndNonFloatWeights) {
  GraphBuilder b("g", 17);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
  std::string hi = b.input("hi", DType::F32, {});
  std::string y = b.op("Conv", {x, b.initializer("w", filled({4, 4, 1, 1}, 0.5f))}, k1());
  b.output(b.op("Clip", {y, b.const_f32(0.f), hi}), "y", DType::F32, {});
  std::string xd = b.input("xd", DType::F64, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
  Tensor wd(DType::F64, {4, 4, 1, 1});
  for (int64_t i = 0; i < wd.numel(); ++i) wd.data<double>()[i] = 0.5;
  b.output(b.op("Relu", {b.op("Conv", {xd, b.initializer("wd", wd)}, k1())}), "yd", DType::F64, {});
  Model m = b.finish();
  EXPECT_EQ(fuse_conv_activation(m.graph), 0);
  EXPECT_EQ(count(m.graph, "Conv"), 2);
}

// The MobileNetV2-structured graph runs channels-last from its first Conv to its last: one layout
// change in (the image) and one out (before GlobalAveragePool), every Conv and activation in between
// on NHWC tensors, and each residual Add folded into the Conv before it.
TEST(ConvChannelsLast, MobilenetRunsChannelsLastBetweenOneChangeInAndOneOut) {
  Model m = bench::mobilenet_like(32, 4, 10);
  int convs = count(m.graph, "Conv"), adds = count(m.graph, "Add");
  ASSERT_EQ(fuse_conv_activation(m.graph), 35);  // every Conv but the 17 projections has a Relu6
  EXPECT_EQ(conv_channels_last(m.graph), convs);
  remove_dead_nodes(m.graph);
  EXPECT_EQ(count(m.graph, "NhwcConv"), convs);
  EXPECT_EQ(count(m.graph, "Layout"), 2);
  EXPECT_EQ(adds, 10);
  EXPECT_EQ(count(m.graph, "Add"), 0);  // each residual Add is its projection Conv's sum input
  int with_sum = 0;
  for (const auto& n : m.graph.nodes) with_sum += n.op_type == "NhwcConv" && n.inputs.size() == 4;
  EXPECT_EQ(with_sum, adds);
  EXPECT_EQ(count(m.graph, "Conv") + count(m.graph, "FusedConv") + count(m.graph, "Clip"), 0);
  const Node* gap = find(m.graph, "GlobalAveragePool");
  ASSERT_NE(gap, nullptr);
  const Node* out = nullptr;
  for (const auto& n : m.graph.nodes)
    if (n.outputs[0] == gap->inputs[0]) out = &n;
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->op_type, "Layout");
  EXPECT_EQ(out->attr_string("to", ""), "nchw");
}

// A Conv whose output is also a graph output keeps that output in NCHW (a layout change back).
TEST(ConvChannelsLast, ValuesLeavingTheRegionAreChangedBack) {
  GraphBuilder b("g", 17);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{4, ""}, Dim{3, ""}, Dim{3, ""}});
  std::string c = b.op("Conv", {x, b.initializer("w", filled({4, 4, 1, 1}, 0.5f))}, k1());
  b.output(c, "c", DType::F32, {});
  b.output(b.op("Softmax", {b.op("Relu", {c})}), "y", DType::F32, {});
  Model m = b.finish();
  EXPECT_EQ(conv_channels_last(m.graph), 1);
  remove_dead_nodes(m.graph);
  EXPECT_EQ(count(m.graph, "Layout"), 3);  // x in; the Conv's output and the Relu's output out
}

}  // namespace
