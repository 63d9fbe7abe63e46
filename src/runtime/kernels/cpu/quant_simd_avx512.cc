// AVX-512 variants of quant_simd.h; compiled for AVX-512 only here, called only when cpuid says so.
// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593, fixed in GCC 13): silence that one warning here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {
namespace {

#define KILN_AVX512 KILN_TARGET(Avx512)

KILN_AVX512 void min_max(const float* x, int64_t n, float* mn, float* mx) {
  int64_t i = 0;
  float lo = x[0], hi = x[0];
  if (n >= 16) {
    __m512 vlo = _mm512_loadu_ps(x), vhi = vlo;
    for (i = 16; i + 16 <= n; i += 16) {
      __m512 v = _mm512_loadu_ps(x + i);
      vlo = _mm512_min_ps(v, vlo);
      vhi = _mm512_max_ps(v, vhi);
    }
    alignas(64) float l[16], h[16];
    _mm512_store_ps(l, vlo);
    _mm512_store_ps(h, vhi);
    lo = l[0];
    hi = h[0];
    for (int k = 1; k < 16; ++k) {
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

// x / scale without a division: q = x * (1/scale), then one correction with the exact remainder
// x - q * scale (an FMA), which gives the correctly rounded quotient, the value the division gives
// (Markstein; checked against the division on 3e9 values). Where the quotient overflows the correction
// gives NaN instead of an infinity; such vectors (and NaN inputs) are divided instead.
KILN_AVX512 inline __m512 quotient(__m512 x, __m512 vs, __m512 vr) {
  __m512 q = _mm512_mul_ps(x, vr);
  q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, vs, x), vr, q);
  if (_mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q)) q = _mm512_div_ps(x, vs);
  return q;
}

// 16 floats quantized: clamp(round_half_even(x / scale) + zero_point, 0, 255), NaN giving 255.
// While every quotient is below 2^24 in magnitude (always, for DynamicQuantizeLinear's own range) the
// rounding, the zero point and the clamp are done on integers: the quotient rounded to an int32
// (half to even, as the float rounding), the zero point added, negatives raised to 0, and the byte
// conversion saturating above 255. That is the float path's value, in 4 vector operations instead of
// 7 (the pass is compute-bound at batch 1). Other vectors (NaN, infinities, huge quotients) take the
// float path.
struct Quantizer {
  __m512 vs, vr, vz;
  __m512i vzi;
  KILN_AVX512 Quantizer(float scale, int32_t zero_point)
      : vs(_mm512_set1_ps(scale)),
        vr(_mm512_set1_ps(1.0f / scale)),
        vz(_mm512_set1_ps((float)zero_point)),
        vzi(_mm512_set1_epi32(zero_point)) {}
  KILN_AVX512 __m128i operator()(__m512 x) const {
    __m512 v = _mm512_mul_ps(x, vr);
    v = _mm512_fmadd_ps(_mm512_fnmadd_ps(v, vs, x), vr, v);
    if (_mm512_cmp_ps_mask(_mm512_abs_ps(v), _mm512_set1_ps(16777216.f), _CMP_LT_OQ) == (__mmask16)0xFFFF) {
      __m512i i = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      i = _mm512_max_epi32(_mm512_add_epi32(i, vzi), _mm512_setzero_si512());
      return _mm512_cvtusepi32_epi8(i);
    }
    v = quotient(x, vs, vr);
    v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    v = _mm512_max_ps(_mm512_min_ps(v, _mm512_set1_ps(255.f)), _mm512_setzero_ps());  // min: 255 for NaN
    return _mm512_cvtusepi32_epi8(_mm512_cvtps_epu32(v));
  }
};

KILN_AVX512 void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y) {
  const __m512 vs = _mm512_set1_ps(scale), vr = _mm512_set1_ps(1.0f / scale), vz = _mm512_set1_ps((float)zero_point);
  const __m512 hi = _mm512_set1_ps(255.f), lo = _mm512_setzero_ps();
  const Quantizer q(scale, zero_point);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), q(_mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 v = quotient(_mm512_maskz_loadu_ps(m, x + i), vs, vr);
    v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtusepi32_epi8(_mm512_cvtps_epu32(v)));
  }
}

// quantize_u8_tile: four rows at a time, 16 floats of each quantized to 16 bytes (four groups of 4),
// the 4 x 4 groups transposed so that each group's four rows are 16 consecutive bytes of the tile.
KILN_AVX512 void quantize_u8_tile(const float* x, int64_t rows, int64_t K, float scale, int32_t zero_point,
                                  uint8_t* y) {
  const Quantizer q(scale, zero_point);
  const int64_t full = K / 16 * 16;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* x0 = x + r * K;
    for (int64_t k = 0; k < full; k += 16) {
      const __m128i a0 = q(_mm512_loadu_ps(x0 + k)), a1 = q(_mm512_loadu_ps(x0 + K + k));
      const __m128i a2 = q(_mm512_loadu_ps(x0 + 2 * K + k)), a3 = q(_mm512_loadu_ps(x0 + 3 * K + k));
      const __m128i t0 = _mm_unpacklo_epi32(a0, a1), t1 = _mm_unpacklo_epi32(a2, a3);
      const __m128i t2 = _mm_unpackhi_epi32(a0, a1), t3 = _mm_unpackhi_epi32(a2, a3);
      uint8_t* o = y + (k / 4 * rows + r) * 4;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_unpacklo_epi64(t0, t1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + rows * 4), _mm_unpackhi_epi64(t0, t1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + rows * 8), _mm_unpacklo_epi64(t2, t3));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + rows * 12), _mm_unpackhi_epi64(t2, t3));
    }
  }
  // Rows past the last group of four, and the last K mod 16 values of every row.
  uint8_t piece[16];
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = i < r ? full : 0; k < K; k += 16) {
      const int64_t n = std::min<int64_t>(16, K - k);
      quantize_u8(x + i * K + k, n, scale, zero_point, piece);
      for (int64_t j = 0; j < n; j += 4) std::memcpy(y + ((k + j) / 4 * rows + i) * 4, piece + j, 4);
    }
}

KILN_AVX512 void correct_row(int32_t* r, const int32_t* colterm, const int32_t* zb, int32_t za, int32_t rowsum,
                             int64_t n) {
  const __m512i vza = _mm512_set1_epi32(za), vrs = _mm512_set1_epi32(rowsum);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512i v = _mm512_maskz_loadu_epi32(m, r + i);
    __m512i c = _mm512_mullo_epi32(vza, _mm512_maskz_loadu_epi32(m, colterm + i));
    __m512i z = _mm512_mullo_epi32(vrs, _mm512_maskz_loadu_epi32(m, zb + i));
    _mm512_mask_storeu_epi32(r + i, m, _mm512_sub_epi32(_mm512_add_epi32(v, c), z));
  }
}

KILN_AVX512 void dequant_row(const int32_t* r, const float* scale, const float* bias, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_cvtepi32_ps(m, _mm512_maskz_loadu_epi32(m, r + i));
    v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, scale + i));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

}  // namespace

const QuantKernels kQuantAvx512{min_max, quantize_u8, correct_row, dequant_row, quantize_u8_tile};

}  // namespace kiln::cpu
