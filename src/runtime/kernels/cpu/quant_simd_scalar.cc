#include <cmath>

#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {
namespace {

void min_max(const float* x, int64_t n, float* mn, float* mx) {
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  *mn = lo;
  *mx = hi;
}

void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y) {
  float zp = (float)zero_point;
  for (int64_t i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] / scale) + zp;  // the default rounding mode: half to even
    v = v < 255.f ? v : 255.f;                   // NaN -> 255, as the vector min does
    v = v > 0.f ? v : 0.f;
    y[i] = (uint8_t)(int)v;
  }
}

void correct_row(int32_t* r, const int32_t* colterm, const int32_t* zb, int32_t za, int32_t rowsum, int64_t n) {
  for (int64_t i = 0; i < n; ++i) r[i] += za * colterm[i] - zb[i] * rowsum;
}

void dequant_row(const int32_t* r, const float* scale, const float* bias, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = (float)r[i] * scale[i] + (bias ? bias[i] : 0.f);
}

}  // namespace

const QuantKernels kQuantScalar{min_max, quantize_u8, correct_row, dequant_row, quantize_u8_tile_by_rows<quantize_u8>};

}  // namespace kiln::cpu
