// `kiln quantize` on models older than the quantized ops: an exporter-style graph at opset 9 (Clip
// with min/max attributes, Slice with starts/ends attributes, weights in Constant nodes) and the
// same graph at opset 11. The written file must load back, pass libonnx's checker, keep no unused
// initializer, and compute the float model's outputs within int8 tolerance in kiln and in ONNX
// Runtime (the float reference is ONNX Runtime on the original file, or kiln where the peer is
// missing).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "core/tensor_json.h"
#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;
namespace fs = std::filesystem;

namespace {

constexpr double kInt8Tolerance = 0.05;  // as the other hand-built graphs of tests/quantize

Tensor random(Shape shape, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  Tensor t(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(g);
  return t;
}

std::string constant(GraphBuilder& b, Tensor t) { return b.op("Constant", {}, {{"value", attr_tensor(std::move(t))}}); }

// x [2, 3, 8, 8] -> Conv -> Clip(0, 6) -> Slice to [2, 4, 4, 4] -> Reshape [2, 4, 16] -> Transpose
// [2, 16, 4] -> one attention head (q/k/v MatMuls, scores, Softmax over the last axis, output
// MatMul) -> y [2, 16, 4]. All weights are Constant nodes; Clip and Slice in the opset's own form.
Model conv_attention_model(int64_t opset) {
  GraphBuilder b("conv_attention", opset);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{3, ""}, Dim{8, ""}, Dim{8, ""}});
  std::string conv = b.op("Conv", {x, constant(b, random({4, 3, 3, 3}, 1, 0.5f)), constant(b, random({4}, 2))},
                          {{"pads", attr_ints({1, 1, 1, 1})}, {"kernel_shape", attr_ints({3, 3})}});
  std::string clip = opset < 11 ? b.op("Clip", {conv}, {{"min", attr_float(0)}, {"max", attr_float(6)}})
                                : b.op("Clip", {conv, b.const_f32(0), b.const_f32(6)});
  std::string slice =
      opset < 10 ? b.op("Slice", {clip},
                        {{"starts", attr_ints({0, 0})}, {"ends", attr_ints({4, 4})}, {"axes", attr_ints({2, 3})}})
                 : b.op("Slice", {clip, b.const_i64({0, 0}), b.const_i64({4, 4}), b.const_i64({2, 3})});
  std::string seq = b.op("Transpose", {b.op("Reshape", {slice, constant(b, Tensor::from_vector<int64_t>({3}, {2, 4, 16}))})},
                         {{"perm", attr_ints({0, 2, 1})}});
  std::string q = b.op("MatMul", {seq, constant(b, random({4, 8}, 3))});
  std::string k = b.op("MatMul", {seq, constant(b, random({4, 8}, 4))});
  std::string v = b.op("MatMul", {seq, constant(b, random({4, 8}, 5))});
  std::string kt = b.op("Transpose", {k}, {{"perm", attr_ints({0, 2, 1})}});
  std::string scores = b.op("Mul", {b.op("MatMul", {q, kt}), constant(b, Tensor::scalar<float>(0.35f))});
  std::string probs = b.op("Softmax", {scores}, {{"axis", attr_int(2)}});
  std::string ctx = b.op("MatMul", {probs, v});
  std::string y = b.op("MatMul", {ctx, constant(b, random({8, 4}, 6))});
  b.output(y, "y", DType::F32, {Dim{2, ""}, Dim{16, ""}, Dim{4, ""}});
  Model m = b.finish();
  m.ir_version = opset < 11 ? 4 : 6;  // what exporters of the time wrote
  return m;
}

NamedTensors feeds(uint32_t seed) { return {{"x", random({2, 3, 8, 8}, seed, 2.0f)}}; }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// Every initializer of g is read by a node or is a graph output.
void expect_no_unused_initializers(const Graph& g) {
  std::set<std::string> reads;
  for (const Node& n : g.nodes) reads.insert(n.inputs.begin(), n.inputs.end());
  for (const auto& o : g.outputs) reads.insert(o.name);
  for (const auto& [name, t] : g.initializers) EXPECT_TRUE(reads.count(name)) << "unused initializer " << name;
}

struct Run {
  std::string flags;
  int64_t opset_after;
};

void quantize_and_compare(int64_t opset, const Run& run, bool expect_quantized = true) {
  SCOPED_TRACE("opset " + std::to_string(opset) + " " + run.flags);
  test::ScratchDir d("kiln-qopset");
  fs::path in = d.path / "float.onnx", out = d.path / "int8.onnx";
  save_model(conv_attention_model(opset), in.string());
  NamedTensors x = feeds(7);
  bool ort = !test::ort_peer().empty();
  NamedTensors ref = ort ? test::run_ort(in.string(), x, d.path.string()) : Session(load_model(in.string())).run(x);

  std::string log;
  int rc = test::run_command(test::kiln_binary() + " quantize " + q(in) + " " + q(out) + " " + run.flags, &log);
  ASSERT_EQ(rc, 0) << log;
  Model m = load_model(out.string());
  EXPECT_EQ(m.opset(""), run.opset_after);
  EXPECT_NO_THROW(test::onnx_check(out.string()));
  expect_no_unused_initializers(m.graph);
  int integer_ops = 0;
  for (const Node& n : m.graph.nodes) {
    integer_ops += n.op_type == "MatMulInteger" || n.op_type == "QuantizeLinear" || n.op_type == "DynamicQuantizeLinear";
    if (n.op_type == "Slice") EXPECT_FALSE(n.has_attr("starts")) << "Slice kept its opset-1 attributes";
    if (n.op_type == "Clip" && run.opset_after >= 11) EXPECT_FALSE(n.has_attr("max")) << "Clip kept its opset-6 attributes";
  }
  EXPECT_EQ(integer_ops > 0, expect_quantized) << log;

  NamedTensors got = Session(load_model(out.string())).run(x);
  double tol = expect_quantized ? kInt8Tolerance : 1e-5;
  EXPECT_LT(test::relative_error(got.at("y"), ref.at("y")), tol) << "kiln";
  KILN_REQUIRE(ort, "ONNX Runtime peer (make peers)");
  NamedTensors o = test::run_ort(out.string(), x, d.path.string());
  EXPECT_LT(test::relative_error(o.at("y"), ref.at("y")), tol) << "ONNX Runtime";
}

}  // namespace

TEST(QuantizeOpsetUpgrade, DynamicFromOpset9) { quantize_and_compare(9, {"--preset avx512_vnni", 11}); }

TEST(QuantizeOpsetUpgrade, DynamicFromOpset11) { quantize_and_compare(11, {"--preset avx512_vnni", 11}); }

TEST(QuantizeOpsetUpgrade, StaticFromOpset9) {
  test::ScratchDir d("kiln-qopset-calib");
  fs::path calib = d.path / "calibration.json";
  write_file_atomic(calib.string(), tensors_to_json_text(feeds(11)));
  quantize_and_compare(9, {"--preset avx512_vnni --static --calibration-data " + q(calib), 10});
}

// Nothing of the requested kind: the upgrade still happens, and the file still runs.
TEST(QuantizeOpsetUpgrade, NothingQuantizedStillValid) {
  quantize_and_compare(9, {"--preset avx512_vnni --ops Gemm", 11}, false);
}

// A change without a conversion fails the command with Unsupported's exit code and writes nothing.
TEST(QuantizeOpsetUpgrade, RefusedBeforeAnythingIsWritten) {
  GraphBuilder b("tile1", 5);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{3, ""}});
  std::string y = b.op("Tile", {b.op("MatMul", {x, b.initializer("w", random({3, 3}, 1))}), b.const_i64({2}),
                                b.const_i64({1})});
  b.output(y, "y", DType::F32, {Dim{2, ""}, Dim{6, ""}});
  test::ScratchDir d("kiln-qopset-refuse");
  fs::path in = d.path / "float.onnx", out = d.path / "int8.onnx";
  save_model(b.finish(), in.string());
  std::string log;
  int rc = test::run_command(test::kiln_binary() + " quantize " + q(in) + " " + q(out), &log);
  EXPECT_EQ(rc, 4) << log;  // Unsupported
  EXPECT_NE(log.find("Tile"), std::string::npos) << log;
  EXPECT_NE(log.find("opset 5 to 11"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out));
}
