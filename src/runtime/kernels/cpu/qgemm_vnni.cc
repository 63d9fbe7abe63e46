// AVX512-VNNI u8 x s8 product with a packed constant B and the dequantizing epilogue in registers
// (see qgemm_vnni.h). Compiled for AVX512-VNNI only in this file; called only when cpuid says so.
#include "runtime/kernels/cpu/qgemm_vnni.h"

// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593, fixed in GCC 13): silence that one warning here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/vec_math.h"

namespace kiln::cpu {

namespace {

#define KILN_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

constexpr int kMR = 12;       // rows of A per tile: 24 accumulators + 2 B registers + 1 broadcast
constexpr int kPanel = 32;    // columns of B per panel (two 16-lane registers)
constexpr int kBlock = 128;   // bytes of one packed group of 4 rows of K

struct Job {
  const uint8_t* a;
  int64_t lda, M;
  const VnniPackedB* b;
  const VnniEpilogue* e;
  const int32_t* rowsum;  // M values when e->zb is set
};

KILN_VNNI inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// One finished 16-column half-row: correction, then float (scale, bias) or int32, masked store.
KILN_VNNI inline void finish(__m512i v, const Job& j, int64_t m, int64_t col, __mmask16 mask) {
  const VnniEpilogue& e = *j.e;
  int32_t za = e.za_count == 0 ? 0 : e.za_count == 1 ? e.za[0] : e.za[m];
  if (za) {
    const __m512i colterm = _mm512_maskz_loadu_epi32(mask, e.colterm + col);
    v = _mm512_add_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(za), colterm));
  }
  if (e.zb) {
    const __m512i zb = _mm512_maskz_loadu_epi32(mask, e.zb + col);
    v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(j.rowsum[m]), zb));
  }
  int64_t N = j.b->N;
  if (e.scale) {
    __m512 f = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(mask, v), _mm512_maskz_loadu_ps(mask, e.scale + col));
    if (e.bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, e.bias + col));
    _mm512_mask_storeu_ps(e.out_f32 + m * N + col, mask, f);
  } else {
    _mm512_mask_storeu_epi32(e.out_i32 + m * N + col, mask, v);
  }
}

// MR rows of A (from m0) times panel p of B over all of K; the sums stay in registers until the
// epilogue.
template <int MR>
KILN_VNNI void tile(const Job& j, int64_t m0, int64_t p) {
  const int8_t* bp = j.b->panel(p);
  const uint8_t* a = j.a + m0 * j.lda;
  const int64_t lda = j.lda, k4 = j.b->k4;
  const bool prefetch = m0 == 0;
  __m512i acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_si512();
  for (int64_t k = 0; k < k4; ++k) {
    const __m512i b0 = _mm512_load_si512(bp + k * kBlock), b1 = _mm512_load_si512(bp + k * kBlock + 64);
    if (prefetch) {
      // The first row tile of a panel brings the panel in from memory (weights do not stay in
      // cache between runs): ask for it well ahead.
      _mm_prefetch(reinterpret_cast<const char*>(bp + (k + 16) * kBlock), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bp + (k + 16) * kBlock + 64), _MM_HINT_T0);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      int32_t four;
      std::memcpy(&four, a + r * lda + 4 * k, 4);
      const __m512i av = _mm512_set1_epi32(four);
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, b0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, b1);
    }
  }
  const int64_t col = p * kPanel, cols = std::min<int64_t>(kPanel, j.b->N - col);
  const __mmask16 lo = lanes(cols), hi = lanes(cols - 16);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    finish(acc0[r], j, m0 + r, col, lo);
    if (hi) finish(acc1[r], j, m0 + r, col + 16, hi);
  }
  if (j.e->gelu) {
    // the tile's rows are still in L1
    float* out = j.e->out_f32 + m0 * j.b->N + col;
    for (int r = 0; r < MR; ++r) vec::gelu_erf(out + r * j.b->N, out + r * j.b->N, cols, Isa::Avx512);
  }
}

using TileFn = void (*)(const Job&, int64_t, int64_t);

template <int... R>
constexpr auto make_tiles(std::integer_sequence<int, R...>) {
  return std::array<TileFn, sizeof...(R)>{&tile<R + 1>...};
}
const auto kTiles = make_tiles(std::make_integer_sequence<int, kMR>{});

}  // namespace

bool vnni_gemm_supported() {
  static const bool ok = active_isa() == Isa::Avx512 && cpu_features().avx512vnni && cpu_features().avx512bw &&
                         cpu_features().avx512dq && cpu_features().avx512vl;
  return ok;
}

VnniPackedB vnni_pack_b(const int8_t* b, int64_t K, int64_t N) {
  VnniPackedB p;
  p.K = K;
  p.N = N;
  p.k4 = (K + 3) / 4;
  p.panels = (N + kPanel - 1) / kPanel;
  p.data.assign((size_t)(p.panels * p.k4 * kBlock + 64), 0);
  p.offset = (int64_t)((64 - reinterpret_cast<uintptr_t>(p.data.data()) % 64) % 64);
  for (int64_t pn = 0; pn < p.panels; ++pn) {
    int8_t* dst = p.data.data() + p.offset + pn * p.k4 * kBlock;
    for (int64_t g = 0; g < p.k4; ++g)
      for (int64_t c = 0; c < kPanel; ++c) {
        int64_t n = pn * kPanel + c;
        if (n >= N) break;
        for (int64_t i = 0; i < 4; ++i) {
          int64_t k = 4 * g + i;
          if (k < K) dst[g * kBlock + c * 4 + i] = b[k * N + n];
        }
      }
  }
  return p;
}

void vnni_gemm(int64_t M, const uint8_t* a, int64_t lda, const VnniPackedB& b, const VnniEpilogue& e) {
  if (M <= 0 || b.N <= 0) return;
  // The kernel reads A four bytes at a time: pad K to a multiple of 4 (zeros meet B's zero rows).
  std::vector<uint8_t> padded;
  if (b.K % 4 != 0) {
    int64_t ld = b.k4 * 4;
    padded.assign((size_t)(M * ld), 0);
    for (int64_t m = 0; m < M; ++m) std::memcpy(padded.data() + m * ld, a + m * lda, (size_t)b.K);
    a = padded.data();
    lda = ld;
  }
  std::vector<int32_t> rowsum;
  if (e.zb) {
    rowsum.resize((size_t)M);
    for (int64_t m = 0; m < M; ++m) {
      int32_t s = 0;
      for (int64_t k = 0; k < b.K; ++k) s += a[m * lda + k];
      rowsum[m] = s;
    }
  }
  Job job{a, lda, M, &b, &e, rowsum.data()};
  const int64_t mtiles = (M + kMR - 1) / kMR;
  // Consecutive jobs share a panel of B, so a thread's panel stays in cache across its row tiles.
  parallel_for(b.panels * mtiles, kMR * kPanel * b.K / 16, [&](long j0, long j1) {
    for (long jb = j0; jb < j1; ++jb) {
      int64_t p = jb / mtiles, m0 = (jb % mtiles) * kMR;
      int64_t rows = std::min<int64_t>(kMR, M - m0);
      kTiles[rows - 1](job, m0, p);
    }
  });
}

}  // namespace kiln::cpu
