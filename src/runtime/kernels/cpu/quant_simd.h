// Hot loops of dynamic quantization, one table per instruction set (quant_simd_<isa>.cc). Every
// variant computes exactly what the scalar one does: the tests compare them element for element.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "runtime/kernels/cpu/isa.h"

namespace kiln::cpu {

struct QuantKernels {
  // Smallest and largest of x[0..n) (n >= 1).
  void (*min_max)(const float* x, int64_t n, float* min, float* max);
  // y[i] = clamp(round_half_even(x[i] / scale) + zero_point, 0, 255); NaN gives 255.
  void (*quantize_u8)(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y);
  // One output row of an 8-bit product, zero points folded in: r[i] += za * colterm[i] - zb[i] * rowsum.
  void (*correct_row)(int32_t* r, const int32_t* colterm, const int32_t* zb, int32_t za, int32_t rowsum, int64_t n);
  // y[i] = float(r[i]) * scale[i] (+ bias[i] when bias is not null).
  void (*dequant_row)(const int32_t* r, const float* scale, const float* bias, float* y, int64_t n);
  // quantize_u8 of `rows` rows of x (K floats each, K a multiple of 4, rows <= 12), written as one
  // row tile of packed_rows.h: the 4 bytes of row i at k = 4g .. 4g+3 go to y + (g rows + i) 4.
  void (*quantize_u8_tile)(const float* x, int64_t rows, int64_t K, float scale, int32_t zero_point, uint8_t* y);
};

// quantize_u8_tile from a variant's quantize_u8: each row quantized in pieces, its bytes moved into place.
template <void (*Quantize)(const float*, int64_t, float, int32_t, uint8_t*)>
void quantize_u8_tile_by_rows(const float* x, int64_t rows, int64_t K, float scale, int32_t zero_point, uint8_t* y) {
  uint8_t piece[256];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k0 = 0; k0 < K; k0 += 256) {
      const int64_t n = std::min<int64_t>(256, K - k0);
      Quantize(x + r * K + k0, n, scale, zero_point, piece);
      for (int64_t j = 0; j < n; j += 4) std::memcpy(y + ((k0 + j) / 4 * rows + r) * 4, piece + j, 4);
    }
}

extern const QuantKernels kQuantScalar;
extern const QuantKernels kQuantAvx2;
extern const QuantKernels kQuantAvx512;

// The table of a variant (which must be supported), and the one kernels use (see active_isa()).
const QuantKernels& quant_kernels(Isa isa);
inline const QuantKernels& quant_kernels() { return quant_kernels(active_isa()); }

}  // namespace kiln::cpu
