// Hot loops of dynamic quantization, one table per instruction set (quant_simd_<isa>.cc). Every
// variant computes exactly what the scalar one does: the tests compare them element for element.
#pragma once
#include <cstdint>

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
};

extern const QuantKernels kQuantScalar;
extern const QuantKernels kQuantAvx2;
extern const QuantKernels kQuantAvx512;

// The table of a variant (which must be supported), and the one kernels use (see active_isa()).
const QuantKernels& quant_kernels(Isa isa);
inline const QuantKernels& quant_kernels() { return quant_kernels(active_isa()); }

}  // namespace kiln::cpu
