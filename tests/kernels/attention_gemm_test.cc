// The attention block products (kernels/cpu/attention_gemm.h) on every variant this CPU runs,
// against a float64 product: odd row counts (the 6-row tiles' tails), column counts around the
// 16-lane vectors and 64-column panels, leading dimensions wider than the rows, alpha.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/kernels/cpu/attention_gemm.h"

using namespace kiln::cpu;

namespace {

TEST(AttentionGemm, MatchesFloat64OnEveryIsa) {
  std::mt19937 g(7);
  std::normal_distribution<float> d(0.f, 1.f);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t m : {1, 5, 6, 7, 13, 128})
      for (int64_t n : {1, 15, 16, 17, 64, 65, 128, 200})
        for (int64_t k : {1, 8, 64}) {
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

// K^T packing: every element lands at its transposed place, row counts around the 16-row gathers.
TEST(AttentionTranspose, EveryIsaPutsEachElementInPlace) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t rows : {1, 15, 16, 17, 128, 131})
      for (int64_t cols : {1, 64, 65}) {
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

}  // namespace
