// The 8-bit product behind MatMulInteger / MatMulIntegerToFloat (Int8Gemm) on every path this CPU can
// run (kiln's AVX512-VNNI kernel, oneDNN int8, oneDNN float, the plain loops), against the definition
// summed in int64 / double: odd shapes (M, N, K not multiples of the 12 x 32 tile or of 4), enough
// rows for several row blocks of the VNNI kernel, zero points of A and of B's columns, and the float
// epilogue with bias and GELU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/quant_gemm.h"
#include "runtime/kernels/cpu/value_range.h"

namespace kiln::cpu {
namespace {

struct Case {
  int64_t M, K, N;
};

std::vector<Int8Path> paths() {
  std::vector<Int8Path> p{Int8Path::DnnlF32, Int8Path::Reference};
  if (vnni_gemm_supported()) p.push_back(Int8Path::Vnni);
  if (amx_gemm_supported()) p.push_back(Int8Path::Amx);
  // oneDNN's u8 x s8 is exact only with VNNI; capped below it (ONEDNN_MAX_CPU_ISA, as the emulated
  // AVX2 runs do) its pairs may saturate, and kiln never takes that path without VNNI.
  if (cpu_features().avx512vnni && active_isa() == Isa::Avx512 && !std::getenv("ONEDNN_MAX_CPU_ISA"))
    p.push_back(Int8Path::DnnlInt8);
  return p;
}

const char* path_name(Int8Path p) {
  switch (p) {
    case Int8Path::Vnni: return "vnni";
    case Int8Path::Amx: return "amx";
    case Int8Path::DnnlInt8: return "dnnl-int8";
    case Int8Path::DnnlF32: return "dnnl-f32";
    default: return "reference";
  }
}

double gelu(double h) { return 0.5 * h * (1 + std::erf(h / std::sqrt(2.0))); }

TEST(Int8Gemm, EveryPathMatchesTheDefinition) {
  // 1000 x 1030 takes three row blocks of the VNNI kernel (blocks of A are kept to 384 KiB). For the
  // AMX kernel: K below 64 and past a multiple of 64 (1030: the last 6 groups of 4 and a K padded to
  // 1032), and 60 x 192 and 45 x 128, K of whole tiles only, with a last row tile of 28 rows (two tiles
  // of A, the second short) and of 13 (one).
  const Case cases[] = {{1, 5, 3}, {13, 33, 37}, {130, 768, 96}, {60, 192, 40}, {45, 128, 70}, {1000, 1030, 70}};
  std::mt19937 rng(7);
  ThreadScope threads(2);
  for (const Case& c : cases) {
    std::vector<uint8_t> a((size_t)(c.M * c.K));
    for (auto& x : a) x = (uint8_t)rng();
    Tensor b(DType::I8, {c.K, c.N});
    for (int64_t i = 0; i < c.K * c.N; ++i) b.data<int8_t>()[i] = (int8_t)rng();
    std::vector<int32_t> zb_cols((size_t)c.N);
    for (auto& z : zb_cols) z = (int32_t)(rng() % 21) - 10;
    std::vector<float> b_scale((size_t)c.N), bias((size_t)c.N);
    for (int64_t n = 0; n < c.N; ++n) {
      b_scale[n] = 0.001f * (float)(1 + n % 7);
      bias[n] = 0.05f * (float)((int)(n % 11) - 5);
    }
    for (int zcase = 0; zcase < 2; ++zcase) {
      const std::vector<int32_t> za = zcase ? std::vector<int32_t>{131} : std::vector<int32_t>{};
      const std::vector<int32_t> zb = zcase ? zb_cols : std::vector<int32_t>{};
      // The definition.
      std::vector<int64_t> want((size_t)(c.M * c.N), 0);
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t k = 0; k < c.K; ++k) {
          int64_t av = (int64_t)a[m * c.K + k] - (za.empty() ? 0 : za[0]);
          for (int64_t n = 0; n < c.N; ++n)
            want[m * c.N + n] += av * ((int64_t)b.data<int8_t>()[k * c.N + n] - (zb.empty() ? 0 : zb[n]));
        }
      for (Int8Path p : paths()) {
        SCOPED_TRACE(std::string(path_name(p)) + " " + std::to_string(c.M) + "x" + std::to_string(c.K) + "x" +
                     std::to_string(c.N) + (zcase ? " with zero points" : ""));
        Int8Gemm g(p);
        g.set_constant_b(b, c.K, c.N);
        std::vector<int32_t> y((size_t)(c.M * c.N));
        g.run(c.M, c.K, c.N, a.data(), false, za, nullptr, true, zb, y.data());
        for (int64_t i = 0; i < c.M * c.N; ++i) ASSERT_EQ(y[i], want[i]) << i;
        for (bool with_gelu : {false, true}) {
          const float a_scale = 0.02f;
          Dequant dq{a_scale, b_scale.data(), c.N, bias.data(), with_gelu};
          std::vector<float> yf((size_t)(c.M * c.N));
          g.run_float(c.M, c.K, c.N, a.data(), false, za, nullptr, true, zb, dq, yf.data());
          double worst = 0, top = 1e-3;
          for (int64_t m = 0; m < c.M; ++m)
            for (int64_t n = 0; n < c.N; ++n) {
              double h = (double)want[m * c.N + n] * ((double)a_scale * b_scale[n]) + bias[n];
              double w = with_gelu ? gelu(h) : h;
              worst = std::max(worst, std::fabs(yf[m * c.N + n] - w));
              top = std::max(top, std::fabs(w));
            }
          EXPECT_LE(worst / top, 2e-6) << (with_gelu ? "gelu" : "bias");
        }
      }
    }
  }
}

// The VNNI kernel's epilogue for a whole 32-column panel with no zero-point term left (one zero point
// of A, folded into the sums' start; weights without zero points: a quantized model's products) is
// written apart from the general one, which takes the last, partial panel and a zero point per row.
// With the same zero point given once and given for every row, the two must give the same bits: with
// bias, with a residual, with GELU, with the output's range; 130 rows (a short last row tile), 112
// columns (three whole panels and half of one).
TEST(Int8Gemm, WholePanelEpilogueBitwiseAsTheGeneralOne) {
  if (!vnni_gemm_supported()) GTEST_SKIP() << "needs AVX512-VNNI";
  const int64_t M = 130, K = 200, N = 112;
  std::mt19937 rng(5);
  std::vector<uint8_t> a((size_t)(M * K));
  for (auto& x : a) x = (uint8_t)rng();
  Tensor b(DType::I8, {K, N});
  for (int64_t i = 0; i < K * N; ++i) b.data<int8_t>()[i] = (int8_t)rng();
  std::vector<float> b_scale((size_t)N), bias((size_t)N), residual((size_t)(M * N));
  for (int64_t n = 0; n < N; ++n) {
    b_scale[n] = 0.0007f * (float)(1 + n % 5);
    bias[n] = 0.03f * (float)((int)(n % 9) - 4);
  }
  for (auto& r : residual) r = (float)((int)(rng() % 2001) - 1000) / 300.f;
  Int8Gemm g(Int8Path::Vnni);
  g.set_constant_b(b, K, N);
  const std::vector<int32_t> one{117}, per_row((size_t)M, 117), zb;
  for (int variant = 0; variant < 4; ++variant) {  // bias; bias + residual; bias + GELU; no bias
    SCOPED_TRACE("variant " + std::to_string(variant));
    std::vector<float> y1((size_t)(M * N)), y2(y1.size());
    ValueRange r1, r2;
    for (int pass = 0; pass < 2; ++pass) {
      Dequant dq{0.015f, b_scale.data(), N, variant == 3 ? nullptr : bias.data(), variant == 2};
      dq.range = pass ? &r2 : &r1;
      if (variant == 1) dq.residual = residual.data();
      g.run_float(M, K, N, a.data(), false, pass ? per_row : one, nullptr, true, zb, dq, pass ? y2.data() : y1.data());
    }
    for (int64_t i = 0; i < M * N; ++i)
      ASSERT_EQ(std::memcmp(&y1[i], &y2[i], sizeof(float)), 0) << "at " << i << ": " << y1[i] << " vs " << y2[i];
    EXPECT_EQ(r1.lo(), r2.lo());
    EXPECT_EQ(r1.hi(), r2.hi());
    EXPECT_LT(r1.lo(), r1.hi());
  }
}

// The AMX kernel stores its tiles of int32 sums and runs the VNNI kernel's epilogue on them: for the same
// sums, the same bits, in every form of the epilogue (bias, residual, GELU, the output's range, zero
// points of B and one per row of A, int32 output), for row counts around its 16-row tiles and
// 32-row blocks, K of whole tiles and past them (100: one tile and 9 groups of 4), on two threads.
// (Both are held to the definition by the tests above.)
TEST(Int8Gemm, AmxKernelBitwiseAsTheVnniKernel) {
  if (!amx_gemm_supported()) GTEST_SKIP() << "needs AMX-INT8";
  std::mt19937 rng(13);
  ThreadScope threads(2);
  for (int64_t K : {64, 100, 768})
    for (int64_t M : {1, 15, 16, 17, 31, 32, 33, 200}) {
      const int64_t N = 112;
      std::vector<uint8_t> a((size_t)(M * K));
      for (auto& x : a) x = (uint8_t)rng();
      Tensor b(DType::I8, {K, N});
      for (int64_t i = 0; i < K * N; ++i) b.data<int8_t>()[i] = (int8_t)rng();
      std::vector<float> b_scale((size_t)N), bias((size_t)N), residual((size_t)(M * N));
      std::vector<int32_t> zb_cols((size_t)N), za_rows((size_t)M);
      for (int64_t n = 0; n < N; ++n) {
        b_scale[n] = 0.0005f * (float)(1 + n % 6);
        bias[n] = 0.02f * (float)((int)(n % 13) - 6);
        zb_cols[n] = (int32_t)(rng() % 9) - 4;
      }
      for (auto& r : residual) r = (float)((int)(rng() % 2001) - 1000) / 250.f;
      for (auto& z : za_rows) z = (int32_t)(rng() % 256);
      Int8Gemm vnni(Int8Path::Vnni), amx(Int8Path::Amx);
      vnni.set_constant_b(b, K, N);
      amx.set_constant_b(b, K, N);
      for (int variant = 0; variant < 6; ++variant) {
        SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(K) + " variant " + std::to_string(variant));
        // 0 bias; 1 bias + residual; 2 bias + GELU; 3 no bias, zero points of B and per row of A;
        // 4 the same with GELU; 5 int32 output.
        const std::vector<int32_t> za = variant >= 3 ? za_rows : std::vector<int32_t>{119};
        const std::vector<int32_t> zb = variant >= 3 ? zb_cols : std::vector<int32_t>{};
        if (variant == 5) {
          std::vector<int32_t> y1((size_t)(M * N)), y2(y1.size());
          vnni.run(M, K, N, a.data(), false, za, nullptr, true, zb, y1.data());
          amx.run(M, K, N, a.data(), false, za, nullptr, true, zb, y2.data());
          ASSERT_EQ(y1, y2);
          continue;
        }
        std::vector<float> y1((size_t)(M * N)), y2(y1.size());
        ValueRange r1, r2;
        for (int pass = 0; pass < 2; ++pass) {
          Dequant dq{0.017f, b_scale.data(), N, variant == 0 || variant == 1 || variant == 2 ? bias.data() : nullptr,
                     variant == 2 || variant == 4};
          dq.range = pass ? &r2 : &r1;
          if (variant == 1) dq.residual = residual.data();
          (pass ? amx : vnni).run_float(M, K, N, a.data(), false, za, nullptr, true, zb, dq, pass ? y2.data() : y1.data());
        }
        for (int64_t i = 0; i < M * N; ++i)
          ASSERT_EQ(std::memcmp(&y1[i], &y2[i], sizeof(float)), 0) << "at " << i << ": " << y1[i] << " vs " << y2[i];
        EXPECT_EQ(r1.lo(), r2.lo());
        EXPECT_EQ(r1.hi(), r2.hi());
        EXPECT_LT(r1.lo(), r1.hi());
      }
    }
}

// The zero point of A alone (DynamicQuantizeLinear's scalar, weights without zero points of their own:
// s8 B without one, u8 B at 128; the VNNI kernel starts its sums from za * colterm, and colterm comes
// from the weights alone), one per row, and a B wider than the kernel's stack buffers (4096 columns),
// against the definition in int64.
TEST(Int8Gemm, ZeroPointOfAWithoutZeroPointsOfB) {
  const Case cases[] = {{25, 20, 4130}, {14, 768, 70}, {130, 64, 33}};
  std::mt19937 rng(11);
  ThreadScope threads(2);
  for (const Case& c : cases)
    for (bool b_u8 : {false, true}) {
      std::vector<uint8_t> a((size_t)(c.M * c.K));
      for (auto& x : a) x = (uint8_t)rng();
      Tensor b(b_u8 ? DType::U8 : DType::I8, {c.K, c.N});
      std::vector<int64_t> bv((size_t)(c.K * c.N));  // B less its zero point
      for (int64_t i = 0; i < c.K * c.N; ++i) {
        const uint8_t raw = (uint8_t)rng();
        if (b_u8)
          b.data<uint8_t>()[i] = raw;
        else
          b.data<int8_t>()[i] = (int8_t)raw;
        bv[i] = b_u8 ? (int64_t)raw - 128 : (int64_t)(int8_t)raw;
      }
      const std::vector<int32_t> zb = b_u8 ? std::vector<int32_t>{128} : std::vector<int32_t>{};
      std::vector<int32_t> per_row((size_t)c.M);
      for (auto& z : per_row) z = (int32_t)(rng() % 256);
      for (const std::vector<int32_t>& za : {std::vector<int32_t>{200}, per_row}) {
        std::vector<int64_t> want((size_t)(c.M * c.N), 0);
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t k = 0; k < c.K; ++k) {
            const int64_t av = (int64_t)a[m * c.K + k] - za[za.size() == 1 ? 0 : m];
            for (int64_t n = 0; n < c.N; ++n) want[m * c.N + n] += av * bv[k * c.N + n];
          }
        for (Int8Path p : paths()) {
          SCOPED_TRACE(std::string(path_name(p)) + " " + std::to_string(c.M) + "x" + std::to_string(c.K) + "x" +
                       std::to_string(c.N) + (b_u8 ? " u8 B" : " s8 B") +
                       (za.size() == 1 ? " one zero point" : " a zero point per row"));
          Int8Gemm g(p);
          g.set_constant_b(b, c.K, c.N);
          std::vector<int32_t> y((size_t)(c.M * c.N));
          g.run(c.M, c.K, c.N, a.data(), false, za, nullptr, !b_u8, zb, y.data());
          for (int64_t i = 0; i < c.M * c.N; ++i) ASSERT_EQ(y[i], want[i]) << i;
          const float b_scale = 0.003f;
          Dequant dq{0.02f, &b_scale, 1};
          std::vector<float> yf((size_t)(c.M * c.N));
          g.run_float(c.M, c.K, c.N, a.data(), false, za, nullptr, !b_u8, zb, dq, yf.data());
          const float s = 0.02f * b_scale;  // the product of the scales, rounded to float as every path does
          for (int64_t i = 0; i < c.M * c.N; ++i) ASSERT_EQ(yf[i], (float)want[i] * s) << i;
        }
      }
    }
}

}  // namespace
}  // namespace kiln::cpu
