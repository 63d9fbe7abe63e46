// AVX2 variants of quant_simd.h; compiled for AVX2 only here, called only when cpuid says so.
#include <immintrin.h>

#include <cmath>

#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {
namespace {

KILN_TARGET(Avx2) void min_max(const float* x, int64_t n, float* mn, float* mx) {
  int64_t i = 0;
  float lo = x[0], hi = x[0];
  if (n >= 8) {
    __m256 vlo = _mm256_loadu_ps(x), vhi = vlo;
    for (i = 8; i + 8 <= n; i += 8) {
      __m256 v = _mm256_loadu_ps(x + i);
      vlo = _mm256_min_ps(v, vlo);
      vhi = _mm256_max_ps(v, vhi);
    }
    alignas(32) float l[8], h[8];
    _mm256_store_ps(l, vlo);
    _mm256_store_ps(h, vhi);
    lo = l[0];
    hi = h[0];
    for (int k = 1; k < 8; ++k) {
      lo = l[k] < lo ? l[k] : lo;
      hi = h[k] > hi ? h[k] : hi;
    }
  }
  for (; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  *mn = lo;
  *mx = hi;
}

KILN_TARGET(Avx2) void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point,
                                                    uint8_t* y) {
  const __m256 vs = _mm256_set1_ps(scale), vr = _mm256_set1_ps(1.0f / scale), vz = _mm256_set1_ps((float)zero_point);
  const __m256 hi = _mm256_set1_ps(255.f), lo = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // x / scale as the AVX-512 variant computes it (quant_simd_avx512.cc): the product with 1/scale
    // corrected once by the exact remainder, the division only where that gives NaN.
    const __m256 xv = _mm256_loadu_ps(x + i);
    __m256 v = _mm256_mul_ps(xv, vr);
    v = _mm256_fmadd_ps(_mm256_fnmadd_ps(v, vs, xv), vr, v);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) v = _mm256_div_ps(xv, vs);
    v = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    v = _mm256_max_ps(_mm256_min_ps(v, hi), lo);  // min returns 255 for NaN (second operand)
    __m256i q = _mm256_cvtps_epi32(v);
    __m128i q16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    __m128i q8 = _mm_packus_epi16(q16, q16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), q8);
  }
  float zp = (float)zero_point;
  for (; i < n; ++i) {
    float v = std::nearbyint(x[i] / scale) + zp;
    v = v < 255.f ? v : 255.f;
    v = v > 0.f ? v : 0.f;
    y[i] = (uint8_t)(int)v;
  }
}

KILN_TARGET(Avx2) void correct_row(int32_t* r, const int32_t* colterm, const int32_t* zb,
                                                    int32_t za, int32_t rowsum, int64_t n) {
  const __m256i vza = _mm256_set1_epi32(za), vrs = _mm256_set1_epi32(rowsum);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i));
    __m256i c = _mm256_mullo_epi32(vza, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colterm + i)));
    __m256i z = _mm256_mullo_epi32(vrs, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zb + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + i), _mm256_sub_epi32(_mm256_add_epi32(v, c), z));
  }
  for (; i < n; ++i) r[i] += za * colterm[i] - zb[i] * rowsum;
}

KILN_TARGET(Avx2) void dequant_row(const int32_t* r, const float* scale, const float* bias, float* y,
                                                    int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i)));
    v = _mm256_mul_ps(v, _mm256_loadu_ps(scale + i));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) y[i] = (float)r[i] * scale[i] + (bias ? bias[i] : 0.f);
}

}  // namespace

const QuantKernels kQuantAvx2{min_max, quantize_u8, correct_row, dequant_row, quantize_u8_tile_by_rows<quantize_u8>};

}  // namespace kiln::cpu
