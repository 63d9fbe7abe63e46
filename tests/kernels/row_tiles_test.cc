// Quantized activations in row tiles (runtime/kernels/cpu/row_tiles.h): the layout round-trips; every
// CPU variant's quantize_u8_tile gives the bytes of the scalar quantize_u8, moved to their tile places
// (rows 1..12, K not a multiple of 16, NaN, ties, overflowing quotients); and kiln's VNNI product
// reading A in row tiles gives bitwise the floats it gives reading the same A row by row, with zero
// points of A and of B's columns, bias, GELU, a residual (and the range noted on the way).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/quant_gemm.h"
#include "runtime/kernels/cpu/quant_simd.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/kernels/cpu/value_range.h"

namespace kiln::cpu {
namespace {

std::vector<uint8_t> random_bytes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v((size_t)n);
  for (auto& x : v) x = (uint8_t)rng();
  return v;
}

// Floats with exact ties ((k + 0.5) * scale), values that saturate, and a NaN.
std::vector<float> random_floats(int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-140.f, 140.f);
  std::uniform_int_distribution<int> k(-140, 140), pick(0, 9);
  std::vector<float> x((size_t)n);
  for (auto& v : x) {
    int p = pick(rng);
    v = p < 3 ? ((float)k(rng) + 0.5f) * scale : p == 3 ? (float)k(rng) * 1e6f : u(rng) * scale;
  }
  if (n > 5) x[5] = NAN;
  return x;
}

TEST(Int8RowTiles, LayoutRoundTrips) {
  for (int64_t R : {1, 11, 12, 13, 25, 128})
    for (int64_t K : {4, 8, 20, 768}) {
      auto a = random_bytes(R * K, (uint32_t)(R * 1000 + K));
      std::vector<uint8_t> t((size_t)(R * K)), back((size_t)(R * K));
      to_row_tiles(a.data(), R, K, t.data());
      from_row_tiles(t.data(), R, K, back.data());
      EXPECT_EQ(a, back) << R << " x " << K;
      // Spot check of the layout: row 12 t + i, bytes 4 g .. 4 g + 3 at 12 t K + (g r + i) 4.
      const int64_t m = R - 1, m0 = m / 12 * 12, rows = std::min<int64_t>(12, R - m0), g = K / 4 - 1;
      EXPECT_EQ(t[m0 * K + (g * rows + (m - m0)) * 4 + 3], a[m * K + 4 * g + 3]);
    }
}

TEST(Int8RowTiles, QuantizeTileEveryVariant) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) {
      std::printf("skipping %s: not supported by this CPU\n", std::string(isa_name(isa)).c_str());
      continue;
    }
    for (int64_t rows = 1; rows <= 12; ++rows)
      for (int64_t K : {4, 12, 16, 20, 36, 64, 100, 772})
        for (float scale : {0.0137f, 1.f, 1e-31f}) {
          const int32_t zp = rows % 2 ? 131 : 0;
          auto x = random_floats(rows * K, scale, (uint32_t)(rows * 7919 + K));
          std::vector<uint8_t> plain((size_t)(rows * K)), want((size_t)(rows * K)), got((size_t)(rows * K), 7);
          quant_kernels(Isa::Scalar).quantize_u8(x.data(), rows * K, scale, zp, plain.data());
          to_row_tiles(plain.data(), rows, K, want.data());
          quant_kernels(isa).quantize_u8_tile(x.data(), rows, K, scale, zp, got.data());
          ASSERT_EQ(got, want) << isa_name(isa) << " rows " << rows << " K " << K << " scale " << scale;
        }
  }
}

TEST(Int8RowTiles, QuantizeWholeMatrixInParallel) {
  ThreadScope threads(2);
  for (int64_t R : {1, 12, 130, 1000}) {
    const int64_t K = 68;
    auto x = random_floats(R * K, 0.02f, (uint32_t)R);
    std::vector<uint8_t> plain((size_t)(R * K)), want((size_t)(R * K)), got((size_t)(R * K));
    quant_kernels(Isa::Scalar).quantize_u8(x.data(), R * K, 0.02f, 100, plain.data());
    to_row_tiles(plain.data(), R, K, want.data());
    quantize_u8_row_tiles(x.data(), R, K, 0.02f, 100, got.data());
    EXPECT_EQ(got, want) << R;
  }
}

TEST(Int8RowTiles, VnniProductReadsThemBitwiseAsRows) {
  if (!vnni_gemm_supported()) {
    std::printf(
        "skipping: no AVX512-VNNI here, by the CPU or KILN_ISA (kiln's VNNI product is the only reader of row "
        "tiles)\n");
    return;
  }
  std::mt19937 rng(11);
  ThreadScope threads(2);
  struct Case {
    int64_t M, K, N;
  };
  // 1000 x 1028: several row blocks of the kernel; 13 and 130: a last tile of 1 and 10 rows.
  for (const Case c : {Case{1, 4, 3}, Case{12, 40, 70}, Case{13, 768, 96}, Case{130, 64, 33}, Case{1000, 1028, 70}})
    for (bool zero_points : {false, true})
      for (int epilogue = 0; epilogue < 3; ++epilogue) {  // bias; bias + GELU; bias + residual
        SCOPED_TRACE(std::to_string(c.M) + "x" + std::to_string(c.K) + "x" + std::to_string(c.N) +
                     (zero_points ? " zero points" : "") + " epilogue " + std::to_string(epilogue));
        auto a = random_bytes(c.M * c.K, (uint32_t)(c.M + c.K));
        std::vector<uint8_t> tiles((size_t)(c.M * c.K));
        to_row_tiles(a.data(), c.M, c.K, tiles.data());
        // u8 B (shifted to s8 inside: a per-column zero point against the s8 form) with zero points,
        // s8 B without.
        Tensor b(zero_points ? DType::U8 : DType::I8, {c.K, c.N});
        for (int64_t i = 0; i < c.K * c.N; ++i) static_cast<uint8_t*>(b.raw())[i] = (uint8_t)rng();
        std::vector<int32_t> za, zb;
        if (zero_points) {
          za = {117};
          for (int64_t n = 0; n < c.N; ++n) zb.push_back((int32_t)(rng() % 256));
        }
        std::vector<float> b_scale((size_t)c.N), bias((size_t)c.N), residual((size_t)(c.M * c.N));
        for (int64_t n = 0; n < c.N; ++n) {
          b_scale[n] = 0.0005f * (float)(1 + n % 7);
          bias[n] = 0.05f * (float)((int)(n % 11) - 5);
        }
        for (auto& r : residual) r = (float)((int)(rng() % 2001) - 1000) * 1e-3f;
        Int8Gemm g(Int8Path::Vnni);
        g.set_constant_b(b, c.K, c.N);
        ASSERT_TRUE(g.takes_row_tiles(c.K, c.N, false));
        EXPECT_FALSE(g.takes_row_tiles(c.K, c.N, true));
        ValueRange r_rows, r_tiles;
        Dequant dq{0.01f, b_scale.data(), c.N, bias.data(), epilogue == 1};
        if (epilogue == 2) dq.residual = residual.data();
        std::vector<float> y_rows((size_t)(c.M * c.N)), y_tiles((size_t)(c.M * c.N), -7.f);
        dq.range = &r_rows;
        g.run_float(c.M, c.K, c.N, a.data(), false, za, nullptr, false, zb, dq, y_rows.data());
        dq.range = &r_tiles;
        dq.a_row_tiles = true;
        g.run_float(c.M, c.K, c.N, tiles.data(), false, za, nullptr, false, zb, dq, y_tiles.data());
        int64_t differ = 0;
        for (int64_t i = 0; i < c.M * c.N; ++i) differ += std::memcmp(&y_rows[i], &y_tiles[i], 4) != 0;
        EXPECT_EQ(differ, 0);
      }
}

}  // namespace
}  // namespace kiln::cpu
