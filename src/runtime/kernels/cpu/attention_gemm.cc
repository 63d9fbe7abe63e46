// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593): silence that one warning here, as vec_math.cc does.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "runtime/kernels/cpu/attention_gemm.h"

#include <dnnl.h>
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/cpu/transpose16_avx512.h"

namespace kiln::cpu {

namespace {

// Sums over k are kept in registers for at most kBlockK terms, then added into C (as ONNX Runtime's
// MLAS does): one FMA chain over a long k (P·V over 512+ keys) rounds worse than blocked sums.
constexpr int64_t kBlockK = 256;

#define KILN_ATTN_AVX512 KILN_TARGET(Avx512)

// MR rows x NV vectors of 16 columns over k in [k0, k1), then into C (stored, or added when
// k0 > 0); the last vector masked by `tail` unless Full. A function of its own, without the loop
// over blocks of k around it: with that loop in the same function GCC kept alpha and the epilogue's
// addresses live across the k loop and spilled two of the B vectors to the stack (6 x 4 tile: 12
// more loads per step, and the products ran at about 2/3 of the FMA peak).
template <int MR, int NV, bool Full>
KILN_ATTN_AVX512 __attribute__((noinline)) void part(int64_t k0, int64_t k1, float alpha, const float* a, int64_t lda,
                                                     const float* b, int64_t ldb, float* c, int64_t ldc,
                                                     __mmask16 tail) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t kk = k0; kk < k1; ++kk) {
    const float* brow = b + kk * ldb;
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = v == NV - 1 && !Full ? _mm512_maskz_loadu_ps(tail, brow + 16 * v) : _mm512_loadu_ps(brow + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m512 av = _mm512_set1_ps(a[r * lda + kk]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const bool masked = v == NV - 1 && !Full;
      __m512 y = alpha == 1.0f ? acc[r][v] : _mm512_mul_ps(acc[r][v], al);
      if (k0 > 0)
        y = _mm512_add_ps(y, masked ? _mm512_maskz_loadu_ps(tail, c + r * ldc + 16 * v)
                                    : _mm512_loadu_ps(c + r * ldc + 16 * v));
      if (masked) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, tail, y);
      else _mm512_storeu_ps(c + r * ldc + 16 * v, y);
    }
}

// MR rows x NV vectors of 16 columns over all of k, in blocks of kBlockK.
template <int MR, int NV>
KILN_ATTN_AVX512 inline void block(int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                                   float* c, int64_t ldc, __mmask16 tail) {
  for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kBlockK) {
    const int64_t k1 = std::min(k, k0 + kBlockK);
    if (tail == (__mmask16)0xFFFF) part<MR, NV, true>(k0, k1, alpha, a, lda, b, ldb, c, ldc, tail);
    else part<MR, NV, false>(k0, k1, alpha, a, lda, b, ldb, c, ldc, tail);
  }
}

template <int NV>
KILN_ATTN_AVX512 void rows(int64_t m, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                           float* c, int64_t ldc, __mmask16 tail) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) block<6, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail);
  switch (m - i) {
    case 5: block<5, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 4: block<4, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 3: block<3, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 2: block<2, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 1: block<1, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    default: break;
  }
}

KILN_ATTN_AVX512 void gemm_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                                  const float* b, int64_t ldb, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += 64) {
    const int64_t nb = std::min<int64_t>(64, n - j0);
    const int nv = (int)((nb + 15) / 16);
    const __mmask16 tail = nb % 16 ? (__mmask16)((1u << (nb % 16)) - 1) : (__mmask16)0xFFFF;
    switch (nv) {
      case 4: rows<4>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail); break;
      case 3: rows<3>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail); break;
      case 2: rows<2>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail); break;
      default: rows<1>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail); break;
    }
  }
}

#define KILN_ATTN_AVX2 KILN_TARGET(Avx2)

// AVX2: MR rows x NV vectors of 8 columns (12 sums in registers at most); the last vector's lanes
// beyond the matrix are masked by `tail` (all ones for the lanes in use).
template <int MR, int NV>
KILN_ATTN_AVX2 inline void block2(int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                                  float* c, int64_t ldc, __m256i tail) {
  const __m256 al = _mm256_set1_ps(alpha);
  for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kBlockK) {
    __m256 acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
    for (int64_t kk = k0; kk < std::min(k, k0 + kBlockK); ++kk) {
      const float* brow = b + kk * ldb;
      __m256 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = v == NV - 1 ? _mm256_maskload_ps(brow + 8 * v, tail) : _mm256_loadu_ps(brow + 8 * v);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m256 av = _mm256_broadcast_ss(a + r * lda + kk);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        __m256 y = alpha == 1.0f ? acc[r][v] : _mm256_mul_ps(acc[r][v], al);
        if (k0 > 0)
          y = _mm256_add_ps(y, v == NV - 1 ? _mm256_maskload_ps(c + r * ldc + 8 * v, tail)
                                           : _mm256_loadu_ps(c + r * ldc + 8 * v));
        if (v == NV - 1) _mm256_maskstore_ps(c + r * ldc + 8 * v, tail, y);
        else _mm256_storeu_ps(c + r * ldc + 8 * v, y);
      }
  }
}

template <int NV>
KILN_ATTN_AVX2 void rows2(int64_t m, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float* c, int64_t ldc, __m256i tail) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) block2<6, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail);
  switch (m - i) {
    case 5: block2<5, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 4: block2<4, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 3: block2<3, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 2: block2<2, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    case 1: block2<1, NV>(k, alpha, a + i * lda, lda, b, ldb, c + i * ldc, ldc, tail); break;
    default: break;
  }
}

KILN_ATTN_AVX2 void gemm_avx2(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                              int64_t ldb, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t nb = std::min<int64_t>(16, n - j0);
    const int nv = (int)((nb + 7) / 8);
    const int used = (int)(nb - 8 * (nv - 1));  // lanes of the last vector in use, 1..8
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(used), lane);
    if (nv == 2) rows2<2>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail);
    else rows2<1>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, tail);
  }
}

KILN_TARGET(Avx512) void where_bytes_avx512(const uint8_t* c, int64_t n, bool when,
                                                                          float fill, float* row) {
  const __m512 f = _mm512_set1_ps(fill);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 in = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
    __mmask16 set = _mm_mask_cmpneq_epi8_mask(in, _mm_maskz_loadu_epi8(in, c + j), _mm_setzero_si128());
    if (!when) set = (__mmask16)(~set & in);
    _mm512_mask_storeu_ps(row + j, set, f);
  }
}

// 16 x 16 blocks: 16 rows read (masked at the edges), transposed in registers, 16 columns stored.
KILN_TARGET(Avx512) void transpose_avx512(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = std::min<int64_t>(16, rows - r0);
    const __mmask16 out = (__mmask16)((1u << nr) - 1);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t nc = std::min<int64_t>(16, cols - c0);
      const __mmask16 in = (__mmask16)((1u << nc) - 1);
      __m512 v[16];
      for (int64_t r = 0; r < 16; ++r)
        v[r] = r < nr ? _mm512_maskz_loadu_ps(in, src + (r0 + r) * ld + c0) : _mm512_setzero_ps();
      transpose16(v);
      for (int64_t c = 0; c < nc; ++c) _mm512_mask_storeu_ps(dst + (c0 + c) * rows + r0, out, v[c]);
    }
  }
}

KILN_TARGET(Avx512) void min_max_avx512(const float* p, int64_t rows, int64_t cols, int64_t ld, float* lo,
                                       float* hi) {
  __m512 vlo = _mm512_set1_ps(*lo), vhi = _mm512_set1_ps(*hi);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = p + r * ld;
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 in = cols - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - j)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(in, row + j);
      vlo = _mm512_mask_min_ps(vlo, in, v, vlo);  // the second operand where v is NaN
      vhi = _mm512_mask_max_ps(vhi, in, v, vhi);
    }
  }
  *lo = _mm512_reduce_min_ps(vlo);
  *hi = _mm512_reduce_max_ps(vhi);
}

// The variants: the primary templates are the portable code (isa.h).
template <Isa>
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * ld + c];
}
template <>
void transpose<Isa::Avx512>(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  transpose_avx512(src, rows, cols, ld, dst);
}

template <Isa>
void min_max(const float* p, int64_t rows, int64_t cols, int64_t ld, float* lo, float* hi) {
  float l = *lo, h = *hi;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = p[r * ld + c];
      l = v < l ? v : l;
      h = v > h ? v : h;
    }
  *lo = l;
  *hi = h;
}
template <>
void min_max<Isa::Avx512>(const float* p, int64_t rows, int64_t cols, int64_t ld, float* lo, float* hi) {
  min_max_avx512(p, rows, cols, ld, lo, hi);
}

template <Isa>
void where_bytes(const uint8_t* c, int64_t n, bool fill_when_true, float fill, float* row) {
  for (int64_t j = 0; j < n; ++j)
    if ((c[j] != 0) == fill_when_true) row[j] = fill;
}
template <>
void where_bytes<Isa::Avx512>(const uint8_t* c, int64_t n, bool fill_when_true, float fill, float* row) {
  where_bytes_avx512(c, n, fill_when_true, fill, row);
}

template <Isa>
bool gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          float* c, int64_t ldc) {
  return dnnl_sgemm('N', 'N', m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc) == dnnl_success;
}
template <>
bool gemm<Isa::Avx2>(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                     int64_t ldb, float* c, int64_t ldc) {
  gemm_avx2(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  return true;
}
template <>
bool gemm<Isa::Avx512>(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                       int64_t ldb, float* c, int64_t ldc) {
  gemm_avx512(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  return true;
}

}  // namespace

void attention_transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst, Isa isa) {
  KILN_ISA_DISPATCH(isa, transpose<ISA>(src, rows, cols, ld, dst));
}

void attention_where_bytes(const uint8_t* c, int64_t n, bool fill_when_true, float fill, float* row, Isa isa) {
  KILN_ISA_DISPATCH(isa, where_bytes<ISA>(c, n, fill_when_true, fill, row));
}

void attention_min_max(const float* p, int64_t rows, int64_t cols, int64_t ld, float* lo, float* hi, Isa isa) {
  if (rows <= 0 || cols <= 0) return;
  KILN_ISA_DISPATCH(isa, min_max<ISA>(p, rows, cols, ld, lo, hi));
}

bool attention_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float* c, int64_t ldc, Isa isa) {
  if (m <= 0 || n <= 0) return true;
  KILN_ISA_DISPATCH(isa, return gemm<ISA>(m, n, k, alpha, a, lda, b, ldb, c, ldc));
}

}  // namespace kiln::cpu
