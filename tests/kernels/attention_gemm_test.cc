// The attention block products (kernels/cpu/attention_gemm.h) on every variant this CPU runs,
// against a float64 product: odd row counts (the 6-row tiles' tails), column counts around the
// 16-lane vectors and 64-column panels, leading dimensions wider than the rows, alpha.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "graph/onnx_io.h"
#include "runtime/kernels/cpu/attention_gemm.h"
#include "test_util.h"

using namespace kiln::cpu;

namespace {

TEST(AttentionGemm, MatchesFloat64OnEveryIsa) {
  std::mt19937 g(7);
  std::normal_distribution<float> d(0.f, 1.f);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t m : {1, 5, 6, 7, 13, 128})
      for (int64_t n : {1, 15, 16, 17, 64, 65, 128, 200})
        for (int64_t k : {1, 8, 64, 300, 600}) {
          const int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
          const float alpha = n % 2 ? 0.125f : 1.0f;
          std::vector<float> a(m * lda), b(k * ldb), c(m * ldc, -7.0f);
          for (auto& x : a) x = d(g);
          for (auto& x : b) x = d(g);
          ASSERT_TRUE(attention_gemm(m, n, k, alpha, a.data(), lda, b.data(), ldb, c.data(), ldc, isa));
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              double ref = 0, mag = 0;
              for (int64_t kk = 0; kk < k; ++kk) {
                ref += (double)a[i * lda + kk] * b[kk * ldb + j];
                mag += std::fabs((double)a[i * lda + kk] * b[kk * ldb + j]);
              }
              ASSERT_NEAR(c[i * ldc + j], alpha * ref, alpha * mag * 1e-6 + 1e-30)
                  << isa_name(isa) << " m " << m << " n " << n << " k " << k << " at " << i << "," << j;
            }
            // The padding between rows is not written.
            for (int64_t j = n; j < ldc && i + 1 < m; ++j) ASSERT_EQ(c[i * ldc + j], -7.0f);
          }
        }
  }
}

// K^T packing: every element lands at its transposed place, row and column counts around the 16 x 16
// blocks.
TEST(AttentionTranspose, EveryIsaPutsEachElementInPlace) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t rows : {1, 15, 16, 17, 128, 131})
      for (int64_t cols : {1, 15, 16, 17, 64, 65}) {
        const int64_t ld = cols + 7;
        std::vector<float> src(rows * ld), dst(rows * cols, -1.f);
        for (size_t i = 0; i < src.size(); ++i) src[i] = (float)i;
        attention_transpose(src.data(), rows, cols, ld, dst.data(), isa);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            ASSERT_EQ(dst[c * rows + r], src[r * ld + c]) << isa_name(isa) << " " << rows << "x" << cols;
      }
  }
}

// The byte-mask Where on a row: filled exactly where (c != 0) == fill_when_true, else untouched.
TEST(AttentionWhereBytes, EveryIsaFillsExactlyTheChosenPlaces) {
  std::mt19937 g(3);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t n : {1, 15, 16, 17, 128, 130})
      for (bool when : {false, true}) {
        std::vector<uint8_t> c(n);
        for (auto& x : c) x = g() % 3 == 0 ? 0 : (uint8_t)(1 + g() % 255);
        std::vector<float> row(n + 1), want;
        for (int64_t j = 0; j <= n; ++j) row[j] = (float)j;
        want = row;
        for (int64_t j = 0; j < n; ++j)
          if ((c[j] != 0) == when) want[j] = -3.4e38f;
        attention_where_bytes(c.data(), n, when, -3.4e38f, row.data(), isa);
        EXPECT_EQ(row, want) << isa_name(isa) << " n=" << n << " when=" << when;
      }
  }
}

// The range of the block's output rows: every ISA gives the rows' true min and max, skipping NaNs,
// merged with what was there, for column counts around the 16-lane vectors.
TEST(AttentionMinMax, EveryIsaMergesTheRowsRange) {
  std::mt19937 g(5);
  std::normal_distribution<float> d(0.f, 3.f);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t rows : {1, 7, 128})
      for (int64_t cols : {1, 15, 16, 17, 64})
        for (int nan = 0; nan < 2; ++nan) {
          const int64_t ld = cols * 3 + 1;
          std::vector<float> p(rows * ld, 1e30f);  // between rows: never read
          float want_lo = -0.5f, want_hi = 0.25f;    // what was merged before
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              float v = d(g);
              p[r * ld + c] = v;
              want_lo = std::min(want_lo, v);
              want_hi = std::max(want_hi, v);
            }
          if (nan) p[(rows - 1) * ld] = p[cols - 1] = std::nanf("");
          if (nan) {  // the NaNs replaced values that may have been the extremes
            want_lo = -0.5f, want_hi = 0.25f;
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t c = 0; c < cols; ++c)
                if (!std::isnan(p[r * ld + c])) {
                  want_lo = std::min(want_lo, p[r * ld + c]);
                  want_hi = std::max(want_hi, p[r * ld + c]);
                }
          }
          float lo = -0.5f, hi = 0.25f;
          attention_min_max(p.data(), rows, cols, ld, &lo, &hi, isa);
          EXPECT_EQ(lo, want_lo) << isa_name(isa) << " " << rows << "x" << cols << " nan " << nan;
          EXPECT_EQ(hi, want_hi) << isa_name(isa) << " " << rows << "x" << cols << " nan " << nan;
        }
  }
}

}  // namespace
// P·V over 1024 keys (softmax-like rows times values), the product kiln:Attention does after its
// softmax: against the float64 product, within 1.25x of ONNX Runtime's MatMul on the same matrices
// (one FMA chain over all the keys had 2-3x its error; blocks of 256 keys match it).
TEST(AttentionGemm, LongKeySumsAsAccurateAsOnnxRuntime) {
  KILN_REQUIRE(!kiln::test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  using kiln::DType;
  using kiln::Tensor;
  const int64_t m = 64, n = 64, k = 1024;
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.f, 1.f);
  Tensor p(DType::F32, {m, k}), v(DType::F32, {k, n});
  float* a = p.data<float>();
  for (int64_t i = 0; i < m; ++i) {
    double s = 0;
    for (int64_t kk = 0; kk < k; ++kk) s += a[i * k + kk] = std::exp(3 * d(g));
    for (int64_t kk = 0; kk < k; ++kk) a[i * k + kk] = (float)(a[i * k + kk] / s);
  }
  for (int64_t i = 0; i < k * n; ++i) v.data<float>()[i] = d(g) + 0.5f;
  auto error = [&](const float* c) {
    double e = 0, mx = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (int64_t kk = 0; kk < k; ++kk) ref += (double)a[i * k + kk] * v.data<float>()[kk * n + j];
        e = std::max(e, std::fabs(c[i * n + j] - ref));
        mx = std::max(mx, std::fabs(ref));
      }
    return e / mx;
  };
  kiln::Model model;
  model.set_opset("", 17);
  kiln::Node node;
  node.op_type = "MatMul";
  node.name = "pv";
  node.inputs = {"p", "v"};
  node.outputs = {"c"};
  model.graph.nodes.push_back(node);
  for (const char* name : {"p", "v"}) {
    kiln::ValueInfo in;
    in.name = name;
    in.dtype = DType::F32;
    model.graph.inputs.push_back(in);
  }
  kiln::ValueInfo out;
  out.name = "c";
  out.dtype = DType::F32;
  model.graph.outputs.push_back(out);
  kiln::test::ScratchDir dir("kiln-attn-pv");
  const std::string path = (dir.path / "model.onnx").string();
  kiln::save_model(model, path);
  const double ort = error(kiln::test::run_ort(path, {{"p", p}, {"v", v}}, dir.path.string()).at("c").data<float>());
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    std::vector<float> c(m * n);
    ASSERT_TRUE(attention_gemm(m, n, k, 1.f, a, k, v.data<float>(), n, c.data(), n, isa));
    EXPECT_LE(error(c.data()), 1.25 * ort) << isa_name(isa) << ": ONNX Runtime's error " << ort;
  }
}
