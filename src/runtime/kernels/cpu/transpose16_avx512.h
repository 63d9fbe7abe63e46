// A 16 x 16 block of floats transposed in sixteen zmm registers, for the AVX-512 kernels that turn
// rows into columns: packing A for the float product (sgemm_packed.cc) and K^T for attention's scores
// (attention_gemm.cc). Three rounds of shuffles (within pairs, 64-bit halves, then 128-bit lanes),
// 64 in all, where 16 gathers of one column each cost a cache line per element.
#pragma once
#include <immintrin.h>

#include "runtime/kernels/cpu/isa.h"

namespace kiln::cpu {

// v[0..15] (16 rows of 16 floats) transposed in registers: afterwards v[j] holds column j.
KILN_TARGET(Avx512) __attribute__((always_inline)) inline void transpose16(__m512 v[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  // u[4 g + c]: rows 4g..4g+3 of columns c, c + 4, c + 8, c + 12 (one per 128-bit lane).
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44),
                 y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    v[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    v[c + 4] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    v[c + 8] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    v[c + 12] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
}

}  // namespace kiln::cpu
