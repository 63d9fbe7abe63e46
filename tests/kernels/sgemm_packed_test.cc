// kiln's float32 product for constant weights (kernels/cpu/sgemm_packed.h), on CPUs that run it
// (AVX-512): against a float64 product with the same epilogue (alpha, the caller's C, bias, GELU, a
// residual), row counts around the 12-row tiles and the 192-row blocks, column counts around the
// 16-lane vectors and 32-column panels, K around the 256-term blocks, B stored either way, leading
// dimensions wider than the rows; two threads against one; and, where oneDNN serves the same product
// (DnnlMatMul with kiln's kernel turned off), the same K-blocked sums as its K-chunks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/threads.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/sgemm_packed.h"

using namespace kiln;
using namespace kiln::cpu;

namespace {

std::vector<float> normal(size_t n, unsigned seed, float sd = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

struct Case {
  int64_t m, k, n;
  bool trans_b;
  float alpha;
  bool accumulate, bias, gelu;
  bool residual = false;  // M x N values added last (rows of ldc floats), not with gelu
};

void check(const Case& t) {
  SCOPED_TRACE(::testing::Message() << "m " << t.m << " k " << t.k << " n " << t.n << " trans_b " << t.trans_b
                                    << " alpha " << t.alpha << " accumulate " << t.accumulate << " bias " << t.bias
                                    << " gelu " << t.gelu << " residual " << t.residual);
  const int64_t lda = t.k + 3, ldc = t.n + 5;
  auto a = normal(t.m * lda, 1), b = normal(t.k * t.n, 2), bias = normal(t.n, 3);
  auto c0 = normal(t.m * ldc, 4), res = normal(t.m * ldc, 5);
  std::vector<float> c = c0;
  PackedSgemmB packed(b.data(), t.k, t.n, t.trans_b);
  packed.run(t.m, a.data(), lda, c.data(), ldc, t.alpha, t.accumulate, t.bias ? bias.data() : nullptr, t.gelu,
             t.residual ? res.data() : nullptr);
  for (int64_t i = 0; i < t.m; ++i) {
    for (int64_t j = 0; j < t.n; ++j) {
      double ref = 0, mag = 0;
      for (int64_t kk = 0; kk < t.k; ++kk) {
        const double bv = t.trans_b ? b[j * t.k + kk] : b[kk * t.n + j];
        ref += (double)a[i * lda + kk] * bv;
        mag += std::fabs((double)a[i * lda + kk] * bv);
      }
      ref *= t.alpha;
      mag *= std::fabs(t.alpha);
      if (t.accumulate) ref += c0[i * ldc + j], mag += std::fabs(c0[i * ldc + j]);
      if (t.bias) ref += bias[j], mag += std::fabs(bias[j]);
      if (t.gelu) ref = gelu(ref);  // GELU's slope is at most about 1.13
      if (t.residual) ref += res[i * ldc + j], mag += std::fabs(res[i * ldc + j]);
      ASSERT_NEAR(c[i * ldc + j], ref, mag * 2e-6 + 1e-6) << "at " << i << "," << j;
    }
    // The columns between rows are not written.
    for (int64_t j = t.n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], c0[i * ldc + j]);
  }
}

TEST(PackedSgemm, MatchesFloat64WithEveryEpilogue) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  // 200 and 193 rows end in a block of 8 and of 1 row (fewer than a tile: A read compact, the one
  // row in place).
  for (int64_t m : {1, 11, 12, 13, 130, 193, 200})
    for (int64_t n : {1, 16, 31, 32, 33, 100, 260})
      for (int64_t k : {1, 17, 256, 300, 600}) check({m, k, n, (m + n) % 2 == 0, 1.f, false, false, false});
  for (bool trans_b : {false, true})
    for (float alpha : {1.f, 0.125f})
      for (bool accumulate : {false, true})
        for (bool bias : {false, true})
          for (bool g : {false, true}) check({37, 520, 70, trans_b, alpha, accumulate, bias, g});
  for (int64_t m : {1, 13, 200})
    for (bool bias : {false, true}) check({m, 300, 70, false, 1.f, false, bias, false, true});
}

TEST(PackedSgemm, EmptyKLeavesTheEpilogueAlone) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  for (bool accumulate : {false, true})
    for (bool g : {false, true}) check({5, 0, 20, false, 1.f, accumulate, true, g, !g});
}

// The threads split the columns (one row block) or the row blocks: each element's sum is made the same
// way whoever makes it.
TEST(PackedSgemm, TwoThreadsGiveTheSameBits) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  for (int64_t m : {128, 500}) {
    const int64_t k = 768, n = 768;
    auto a = normal(m * k, 5), b = normal(k * n, 6, 0.05f), bias = normal(n, 7);
    PackedSgemmB packed(b.data(), k, n, false);
    std::vector<float> one(m * n), two(m * n);
    {
      ThreadScope threads(1);
      packed.run(m, a.data(), k, one.data(), n, 1.f, false, bias.data(), true);
    }
    {
      ThreadScope threads(2);
      packed.run(m, a.data(), k, two.data(), n, 1.f, false, bias.data(), true);
    }
    ASSERT_EQ(one, two) << "m " << m;
  }
}

// Fewer rows than a tile (a decoder step's) walk B in memory order, a panel's K blocks and then the
// next panel's, where taller products take each K block across all panels, and read A compact (m
// values per k, not a tile's 12; one row in place): each row's sums are the same blocks added in the
// same order, so the rows come out as they do inside a taller product.
TEST(PackedSgemm, FewRowsGiveTheBitsOfATallerProduct) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  const int64_t k = 700, n = 330, tall = 24;
  auto a = normal(tall * k, 10), b = normal(k * n, 11, 0.05f), bias = normal(n, 12), res = normal(tall * n, 13);
  PackedSgemmB packed(b.data(), k, n, false);
  for (int threads : {1, 2})
    for (bool g : {false, true}) {
      ThreadScope scope(threads);
      std::vector<float> all(tall * n), few(tall * n);
      packed.run(tall, a.data(), k, all.data(), n, 1.f, false, bias.data(), g, g ? nullptr : res.data());
      for (int64_t m : {1, 2, 5, 11}) {
        packed.run(m, a.data(), k, few.data(), n, 1.f, false, bias.data(), g, g ? nullptr : res.data());
        for (int64_t i = 0; i < m * n; ++i)
          ASSERT_EQ(few[i], all[i]) << "m " << m << " at " << i << " threads " << threads << " gelu " << g;
      }
    }
}

// A's rows are read where they lie when 12 of them, lda floats apart, spread over enough L1 sets
// (lda = 768, 771) and from a packed copy otherwise (512, 1024, 3072): the same FMA chains either way,
// so every lda gives the bits of the same product, tile rows and the last rows alike (m = 12, 13, 130),
// with each epilogue and on two threads.
TEST(PackedSgemm, AReadInPlaceGivesTheBitsOfPackedA) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  const int64_t k = 500, n = 100;
  auto b = normal(k * n, 14, 0.05f), bias = normal(n, 15);
  PackedSgemmB packed(b.data(), k, n, false);
  for (int64_t m : {12, 13, 130})
    for (int threads : {1, 2})
      for (bool g : {false, true}) {
        ThreadScope scope(threads);
        auto dense = normal(m * k, 16);
        auto res = normal(m * n, 17);
        std::vector<float> want(m * n);
        packed.run(m, dense.data(), k, want.data(), n, 1.f, false, bias.data(), g, g ? nullptr : res.data());
        for (int64_t lda : {512, 768, 771, 1024, 3072}) {
          std::vector<float> a(m * lda, std::nanf("")), got(m * n);
          for (int64_t i = 0; i < m; ++i) std::copy(&dense[i * k], &dense[i * k] + k, &a[i * lda]);
          packed.run(m, a.data(), lda, got.data(), n, 1.f, false, bias.data(), g, g ? nullptr : res.data());
          for (int64_t i = 0; i < m * n; ++i)
            ASSERT_EQ(got[i], want[i]) << "m " << m << " lda " << lda << " at " << i << " threads " << threads;
        }
      }
}

// Through DnnlMatMul: with kiln's kernel and with oneDNN's K-chunks of 256 (kiln's kernel turned off)
// the products agree (both sum each block of 256 k from zero in k order, then add the blocks into C in
// order: on the machine this was written on they agree bit for bit; the bound leaves room for another
// oneDNN kernel's order within a block).
TEST(PackedSgemm, AgreesWithOneDnnsKChunks) {
  if (!PackedSgemmB::available()) GTEST_SKIP() << "kiln's float kernel needs AVX-512 (oneDNN serves this CPU)";
  using dt = dnnl::memory::data_type;
  const int64_t m = 64, k = 3072, n = 96;
  auto a = normal(m * k, 8), b = normal(k * n, 9, 0.02f);
  Tensor bt = Tensor::from_vector<float>({k, n}, std::vector<float>(b));
  std::vector<float> own(m * n), onednn(m * n);
  DnnlMatMul with(dt::f32, dt::f32, dt::f32), without(dt::f32, dt::f32, dt::f32);
  without.allow_own_kernel(false);
  with.pack_b(bt, k, n, false);
  without.pack_b(bt, k, n, false);
  ASSERT_TRUE(with.own_kernel());
  ASSERT_FALSE(without.own_kernel());
  with.run(MatMulShape{1, m, k, n}, a.data(), nullptr, own.data());
  without.run(MatMulShape{1, m, k, n}, a.data(), nullptr, onednn.data());
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < m * n; ++i) {
    worst = std::max(worst, (double)std::fabs(own[i] - onednn[i]));
    scale = std::max(scale, (double)std::fabs(onednn[i]));
  }
  EXPECT_LE(worst, scale * 1e-6);
}

}  // namespace
