// Quantized activations passed in row tiles (passes/quant_row_tiles.cc, runtime/kernels/cpu/row_tiles.h):
// on a CPU with AVX512-VNNI the session marks a DynamicQuantizeLinear and the MatMulIntegerToFloat
// nodes reading it; their outputs are bitwise those of the same graph run without fusions (optimization
// level 0: plain kernels, row-major bytes) and match ONNX Runtime's. Not marked: a quantized tensor
// that is also a graph output, or a K that is not a multiple of 4. A product told to read row tiles
// that cannot (B not constant) rearranges them back and gives the plain product's values.
#include <gtest/gtest.h>

#include <random>

#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "kernels/single_node.h"
#include "passes/passes.h"
#include "runtime/kernels/cpu/qgemm_vnni.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

Tensor random_8bit(DType dt, Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(dt, s);
  for (int64_t i = 0; i < t.numel(); ++i) static_cast<uint8_t*>(t.raw())[i] = (uint8_t)rng();
  return t;
}

int tiled(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op && node.attr_int("row_tiles", 0) == 1;
  return n;
}

// x [2, 37, K] -> DynamicQuantizeLinear -> two MatMulIntegerToFloat: s8 weights with per-column
// scales and a bias; u8 weights with a zero point per column. q_out: q is a graph output too.
Model quantized_pair(int64_t K, bool q_out) {
  GraphBuilder b("pair", 17);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{37, ""}, Dim{K, ""}});
  auto q = b.op_n("DynamicQuantizeLinear", {x}, 3);
  std::string y1 =
      b.op("MatMulIntegerToFloat",
           {q[0], b.initializer("w1", random_8bit(DType::I8, {K, 70}, 3)), q[1],
            b.initializer("s1", test::normal_tensor({70}, 4, 0.01f)), q[2], "",
            b.initializer("bias1", test::normal_tensor({70}, 5, 0.5f))},
           {}, "com.microsoft");
  std::string y2 = b.op("MatMulIntegerToFloat",
                        {q[0], b.initializer("w2", random_8bit(DType::U8, {K, 24}, 6)), q[1],
                         b.initializer("s2", Tensor::scalar<float>(0.003f)), q[2],
                         b.initializer("zp2", random_8bit(DType::U8, {24}, 7))},
                        {}, "com.microsoft");
  b.output(y1, "y1", DType::F32, {});
  b.output(y2, "y2", DType::F32, {});
  if (q_out) b.output(q[0], "q", DType::U8, {});
  Model m = b.finish();
  m.set_opset("com.microsoft", 1);
  for (auto& v : m.graph.outputs) v.shape = std::nullopt;
  return m;
}

void expect_bitwise(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  int64_t differ = 0;
  for (int64_t i = 0; i < got.numel(); ++i) differ += got.data<float>()[i] != want.data<float>()[i];
  EXPECT_EQ(differ, 0);
}

// Sessions pass quantized activations in row tiles where the int8 products run the VNNI kernel, not
// its AMX kernel (cpu::vnni_gemm_reads_row_tiles(); the VNNI kernel's reading of row tiles is also held
// bitwise to rows on every VNNI CPU: tests/kernels/row_tiles_test.cc).
bool sessions_tile() { return cpu::vnni_gemm_reads_row_tiles(); }

TEST(QuantRowTiles, ProductsReadTheQuantizerInRowTiles) {
  const bool tiles = sessions_tile();
  NamedTensors feeds{{"x", test::normal_tensor({2, 37, 40}, 1, 1.5f)}};
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    SessionOptions fused_opt, plain_opt;
    fused_opt.threads = plain_opt.threads = threads;
    plain_opt.optimization_level = 0;
    Session fused(quantized_pair(40, false), fused_opt), plain(quantized_pair(40, false), plain_opt);
    EXPECT_EQ(tiled(fused.model().graph, "DynamicQuantizeLinear"), tiles ? 1 : 0);
    EXPECT_EQ(tiled(fused.model().graph, "MatMulIntegerToFloat"), tiles ? 2 : 0);
    EXPECT_EQ(tiled(plain.model().graph, "DynamicQuantizeLinear"), 0);
    NamedTensors got = fused.run(feeds), want = plain.run(feeds);
    expect_bitwise(got.at("y1"), want.at("y1"));
    expect_bitwise(got.at("y2"), want.at("y2"));
  }

  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir dir("kiln-rowtiles");
  const std::string path = (dir.path / "pair.onnx").string();
  save_model(quantized_pair(40, false), path);
  NamedTensors ort = test::run_ort(path, feeds, dir.path.string());
  NamedTensors got = Session(path).run(feeds);
  EXPECT_LE(test::relative_error(got.at("y1"), ort.at("y1")), 1e-6);
  EXPECT_LE(test::relative_error(got.at("y2"), ort.at("y2")), 1e-6);
}

TEST(QuantRowTiles, LeftRowMajorWhereOthersReadOrKDoesNotFit) {
  struct Case {
    int64_t K;
    bool q_out;
  };
  for (Case c : {Case{40, true}, Case{42, false}}) {
    SCOPED_TRACE("K " + std::to_string(c.K) + (c.q_out ? " q is an output" : ""));
    Session s(quantized_pair(c.K, c.q_out));
    EXPECT_EQ(tiled(s.model().graph, "DynamicQuantizeLinear"), 0);
    EXPECT_EQ(tiled(s.model().graph, "MatMulIntegerToFloat"), 0);
    SessionOptions plain_opt;
    plain_opt.optimization_level = 0;
    NamedTensors feeds{{"x", test::normal_tensor({2, 37, c.K}, 2, 1.f)}};
    NamedTensors got = s.run(feeds), want = Session(quantized_pair(c.K, c.q_out), plain_opt).run(feeds);
    expect_bitwise(got.at("y1"), want.at("y1"));
    if (c.q_out) EXPECT_EQ(got.at("q").numel(), want.at("q").numel());
  }
}

TEST(QuantRowTiles, ProductWithoutConstantWeightsRearrangesThemBack) {
  const int64_t M = 29, K = 36, N = 21;
  Tensor a = random_8bit(DType::U8, {M, K}, 8), tiles(DType::U8, {M, K});
  cpu::to_row_tiles(a.data<uint8_t>(), M, K, tiles.data<uint8_t>());
  Tensor w = random_8bit(DType::I8, {K, N}, 9);
  Tensor as = Tensor::scalar<float>(0.02f), bs = test::normal_tensor({N}, 10, 0.01f), zp = Tensor::scalar<uint8_t>(77);
  test::SingleNode plain{"MatMulIntegerToFloat", "com.microsoft", {}, 1};
  test::SingleNode from_tiles = plain;
  from_tiles.attrs["row_tiles"] = test::attr_int(1);
  // B as a graph input (not constant): no packed product to read the tiles.
  Tensor want = test::run_single_node(plain, {a, w, as, bs, zp})[0];
  Tensor got = test::run_single_node(from_tiles, {tiles, w, as, bs, zp})[0];
  expect_bitwise(got, want);
}

// ONNX Runtime's quantized DistilBERT: every quantization feeds products only, so all are marked
// (its outputs against ONNX Runtime's: tests/runtime/golden_test.cc).
TEST(QuantRowTiles, QuantizedDistilBert) {
  Session s(test::fixture("models/distilbert-tiny") + "/model_quantized.onnx");
  int quantizers = 0;
  for (const auto& n : s.model().graph.nodes) quantizers += n.op_type == "DynamicQuantizeLinear";
  EXPECT_GT(quantizers, 0);
  EXPECT_EQ(tiled(s.model().graph, "DynamicQuantizeLinear"), sessions_tile() ? quantizers : 0);
}

}  // namespace
