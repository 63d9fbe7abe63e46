// Every CPU variant of a hand-written micro-kernel against the reference (scalar) one on random
// inputs, in the spirit of ggml's test-backend-ops: scalar vs AVX2 vs AVX-512 for the quantization
// loops, and oneDNN int8 vs oneDNN float vs plain loops for the 8-bit matrix product. Variants this
// CPU cannot run are skipped (and say so).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/quant_gemm.h"
#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {
namespace {

const Isa kVariants[] = {Isa::Avx2, Isa::Avx512};

// Random floats with a share of exact ties (k + 0.5) * scale and the odd extreme, so rounding and
// saturation are exercised; sizes that are not multiples of any vector width.
std::vector<float> random_floats(int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-300.f, 300.f);
  std::uniform_int_distribution<int> k(-200, 200), pick(0, 9);
  std::vector<float> x((size_t)n);
  for (auto& v : x) {
    int p = pick(rng);
    v = p < 3 ? ((float)k(rng) + 0.5f) * scale : p == 3 ? (float)k(rng) * 1e6f : u(rng) * scale;
  }
  return x;
}

TEST(BackendVariants, MinMax) {
  for (Isa isa : kVariants) {
    if (!isa_supported(isa)) {
      std::printf("skipping %s: not supported by this CPU\n", std::string(isa_name(isa)).c_str());
      continue;
    }
    for (int64_t n : {1, 7, 8, 15, 16, 17, 100, 1000, 4099}) {
      auto x = random_floats(n, 0.01f, (uint32_t)n);
      float lo0, hi0, lo1, hi1;
      quant_kernels(Isa::Scalar).min_max(x.data(), n, &lo0, &hi0);
      quant_kernels(isa).min_max(x.data(), n, &lo1, &hi1);
      EXPECT_EQ(lo0, lo1) << isa_name(isa) << " n=" << n;
      EXPECT_EQ(hi0, hi1) << isa_name(isa) << " n=" << n;
    }
  }
}

TEST(BackendVariants, QuantizeU8) {
  for (Isa isa : kVariants) {
    if (!isa_supported(isa)) continue;
    for (int64_t n : {1, 5, 8, 16, 31, 33, 1000, 4099}) {
      // 1e-31: x / scale overflows for the large values (the division fallback of the vector kernels)
      for (float scale : {1.f, 0.25f, 0.0137f, 100.f / 255.f, 1e-31f}) {
        for (int zp : {0, 17, 128, 255}) {
          auto x = random_floats(n, scale, (uint32_t)(n * 31 + zp));
          if (n > 4) x[3] = NAN;
          std::vector<uint8_t> y0((size_t)n), y1((size_t)n);
          quant_kernels(Isa::Scalar).quantize_u8(x.data(), n, scale, zp, y0.data());
          quant_kernels(isa).quantize_u8(x.data(), n, scale, zp, y1.data());
          int64_t differ = 0;
          for (int64_t i = 0; i < n; ++i) differ += y0[i] != y1[i];
          EXPECT_EQ(differ, 0) << isa_name(isa) << " n=" << n << " scale=" << scale << " zp=" << zp;
        }
      }
    }
  }
}

TEST(BackendVariants, Int8Epilogue) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> big(-1000000, 1000000), small(-300, 300);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  for (Isa isa : kVariants) {
    if (!isa_supported(isa)) continue;
    for (int64_t n : {1, 7, 16, 17, 100, 768, 3075}) {
      std::vector<int32_t> r0((size_t)n), colterm((size_t)n), zb((size_t)n);
      std::vector<float> scale((size_t)n), bias((size_t)n);
      for (int64_t i = 0; i < n; ++i) r0[i] = big(rng), colterm[i] = big(rng) / 300, zb[i] = small(rng), scale[i] = uf(rng), bias[i] = uf(rng);
      auto r1 = r0, r2 = r0;
      quant_kernels(Isa::Scalar).correct_row(r1.data(), colterm.data(), zb.data(), 131, -977, n);
      quant_kernels(isa).correct_row(r2.data(), colterm.data(), zb.data(), 131, -977, n);
      EXPECT_EQ(r1, r2) << isa_name(isa) << " n=" << n;
      for (const float* b : {(const float*)nullptr, (const float*)bias.data()}) {
        std::vector<float> y1((size_t)n), y2((size_t)n);
        quant_kernels(Isa::Scalar).dequant_row(r1.data(), scale.data(), b, y1.data(), n);
        quant_kernels(isa).dequant_row(r1.data(), scale.data(), b, y2.data(), n);
        EXPECT_EQ(y1, y2) << isa_name(isa) << " n=" << n << (b ? " with bias" : "");
      }
    }
  }
}

TEST(BackendVariants, QuantizeU8ReferenceFollowsTheSpec) {
  // The reference itself: round half to even, then add the zero point, then saturate.
  float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.f, -300.f};
  uint8_t y[7];
  quant_kernels(Isa::Scalar).quantize_u8(x, 7, 1.f, 10, y);
  std::vector<uint8_t> want{10, 12, 12, 10, 8, 255, 0};
  EXPECT_EQ(std::vector<uint8_t>(y, y + 7), want);
}

// Normalised error between two float results: sum (a-b)^2 / sum b^2, as test-backend-ops does.
double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double)(a[i] - b[i]) * (a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return den == 0 ? num : num / den;
}

template <typename T>
std::vector<T> random_bytes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(std::is_signed_v<T> ? -128 : 0, std::is_signed_v<T> ? 127 : 255);
  std::vector<T> v((size_t)n);
  for (auto& x : v) x = (T)u(rng);
  return v;
}

TEST(BackendVariants, Int8Gemm) {
  // K <= 512 keeps every partial sum below 2^24, where the float path is exact too.
  struct Case { int64_t M, K, N; };
  // Shapes cover every tile height (1..12 rows and a remainder), K not a multiple of 4, and N
  // that ends inside each half of a 32-column panel.
  for (Case c : {Case{1, 64, 48}, Case{7, 130, 33}, Case{128, 512, 96}, Case{25, 3, 17}, Case{12, 257, 64},
                 Case{37, 96, 5}}) {
    for (bool a_signed : {false, true}) {
      for (bool b_signed : {false, true}) {
        auto a8 = random_bytes<uint8_t>(c.M * c.K, 1);
        auto b8 = random_bytes<uint8_t>(c.K * c.N, 2);
        std::vector<int32_t> za{a_signed ? -5 : 130}, zb((size_t)c.N);
        for (int64_t n = 0; n < c.N; ++n) zb[n] = (int32_t)(n % 9) - (b_signed ? 4 : -120);
        Tensor bt(b_signed ? DType::I8 : DType::U8, {c.K, c.N});
        std::memcpy(bt.raw(), b8.data(), b8.size());

        std::vector<int32_t> ref((size_t)(c.M * c.N));
        Int8Gemm reference(Int8Path::Reference);
        reference.run(c.M, c.K, c.N, a8.data(), a_signed, za, b8.data(), b_signed, zb, ref.data());
        for (Int8Path path : {Int8Path::Vnni, Int8Path::DnnlInt8, Int8Path::DnnlF32}) {
          if (path == Int8Path::DnnlInt8 && !(cpu_features().avx512vnni || cpu_features().avxvnni)) {
            std::printf("skipping oneDNN int8: no VNNI, pairs may saturate\n");
            continue;
          }
          if (path == Int8Path::Vnni && !vnni_gemm_supported()) {
            std::printf("skipping kiln's VNNI kernel: this CPU has no AVX512-VNNI\n");
            continue;
          }
          for (bool constant : {false, true}) {
            Int8Gemm g(path);
            if (constant) g.set_constant_b(bt, c.K, c.N);
            std::vector<int32_t> got((size_t)(c.M * c.N));
            g.run(c.M, c.K, c.N, a8.data(), a_signed, za, constant ? nullptr : b8.data(), b_signed, zb, got.data());
            EXPECT_EQ(got, ref) << "path " << (int)path << " constant " << constant << " M=" << c.M << " a_signed "
                                << a_signed << " b_signed " << b_signed;
            // The float epilogue: scales per column and a bias.
            std::vector<float> bscale((size_t)c.N), bias((size_t)c.N), want((size_t)(c.M * c.N)), y(want.size());
            for (int64_t n = 0; n < c.N; ++n) bscale[n] = 0.01f * (float)(n + 1), bias[n] = (float)n - 3.f;
            for (int64_t m = 0; m < c.M; ++m)
              for (int64_t n = 0; n < c.N; ++n) want[m * c.N + n] = (float)ref[m * c.N + n] * 0.5f * bscale[n] + bias[n];
            g.run_float(c.M, c.K, c.N, a8.data(), a_signed, za, constant ? nullptr : b8.data(), b_signed, zb,
                        Dequant{0.5f, bscale.data(), c.N, bias.data()}, y.data());
            EXPECT_LT(nmse(y, want), 1e-12);
            // With the GELU epilogue (erf form, by its formula in double).
            for (auto& v : want) v = (float)(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
            g.run_float(c.M, c.K, c.N, a8.data(), a_signed, za, constant ? nullptr : b8.data(), b_signed, zb,
                        Dequant{0.5f, bscale.data(), c.N, bias.data(), true}, y.data());
            EXPECT_LT(nmse(y, want), 1e-12) << "gelu, path " << (int)path;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::cpu
