// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593): silence that one warning here, as vec_math.cc does.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "runtime/kernels/cpu/sgemm_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/transpose16_avx512.h"
#include "runtime/kernels/cpu/vec_math.h"

namespace kiln::cpu {

namespace {

#define KILN_SGEMM_AVX512 KILN_TARGET(Avx512)

constexpr int64_t kBlockK = PackedSgemmB::kBlockK, kPanel = PackedSgemmB::kPanel, kRows = PackedSgemmB::kRows;
// Rows of A per block (a multiple of kRows): a block's K-slice of packed A (192 x 256 floats, 192 KiB)
// stays in L2 while it meets each panel of its group.
constexpr int64_t kBlockM = 192;
// Panels per group: the loop over K blocks runs inside a group, so the group's slice of C (192 x 256
// floats) stays in L2 between K blocks. (Measured on 4096 x 768 x 768 and the FFN shapes: 96 or 384
// rows, 4 or 16 panels, within 3 % of this.)
constexpr int64_t kGroup = 8;

struct Epilogue {
  float alpha;
  bool add_c;         // add C's contents (an earlier K block's sum, or the caller's C)
  const float* bias;  // added after the sum (the last K block), or null
  const float* r;     // then added (the last K block; rows of ldc floats, like C), or null
};

// How a tile fetches the next panel block into L2 while it works: not at all, one cache line every
// 4 k (the tiles of a tall block share the next block between them), or two lines every k (a block
// of fewer than kRows rows, a decoder step's: its one tile fetches the whole next block itself, or
// the product waits on memory for every block).
enum Prefetch { kNoPrefetch, kShared, kWhole };

// AS, where a tile finds A: kc groups of AS values (row r of k at a[k * AS + r]: AS is kRows for a
// packed tile, or MR for the compact tile of a block of fewer rows, a decoder step's), or, AS =
// kInPlace, A's own rows lda floats apart (row r of k at a[r * lda + k]).
constexpr int kInPlace = 0;

// MR rows x NV vectors of 16 columns of C from kc rows of a panel (w floats a row) and a tile of A
// (AS above); the last vector stores only the lanes in `tail`.
template <int MR, int NV, Prefetch PF = kNoPrefetch, int AS = kRows>
KILN_SGEMM_AVX512 inline void tile(int64_t kc, const float* a, const float* b, int64_t w, float* c, int64_t ldc,
                                   __mmask16 tail, const Epilogue& e, const float* pf = nullptr, int64_t pf_lines = 0,
                                   int64_t lda = 0) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + k * w + 16 * v);
    // Cache lines of the next panel block, into L2.
    if constexpr (PF == kShared)
      if ((k & 3) == 0 && (k >> 2) < pf_lines) _mm_prefetch((const char*)(pf + (k >> 2) * 16), _MM_HINT_T1);
    if constexpr (PF == kWhole)
      if (2 * k + 1 < pf_lines) {
        _mm_prefetch((const char*)(pf + 2 * k * 16), _MM_HINT_T0);
        _mm_prefetch((const char*)(pf + (2 * k + 1) * 16), _MM_HINT_T0);
      }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(AS == kInPlace ? a[r * lda + k] : a[k * AS + r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  // Locals: the stores into C below could otherwise alias `e` for the compiler.
  const float alpha = e.alpha;
  const bool add_c = e.add_c;
  const float* bias = e.bias;
  const float* res = e.r;
  const __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : (__mmask16)0xFFFF;
      float* cp = c + r * ldc + 16 * v;
      __m512 y = alpha == 1.f ? acc[r][v] : _mm512_mul_ps(acc[r][v], al);
      if (add_c) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, cp));
      if (bias) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, bias + 16 * v));
      if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, res + r * ldc + 16 * v));
      _mm512_mask_storeu_ps(cp, m, y);
    }
}

// How the last rows' tile reads A: from a packed tile (kRows values per k), a compact one (m values
// per k, pack_a_compact) or in place.
enum TailA { kTailPacked, kTailCompact, kTailInPlace };

// The last m < MR rows: one tile of exactly m rows (fetching the next block, pf_lines lines at pf,
// when PF is kWhole).
template <int MR, int NV, Prefetch PF = kNoPrefetch, TailA TA = kTailPacked>
KILN_SGEMM_AVX512 inline void tail_rows(int64_t m, int64_t kc, const float* a, const float* b, int64_t w, float* c,
                                        int64_t ldc, __mmask16 tail, const Epilogue& e, const float* pf = nullptr,
                                        int64_t pf_lines = 0, int64_t lda = 0) {
  if constexpr (MR > 1) {
    constexpr int kStride = TA == kTailCompact ? MR - 1 : TA == kTailInPlace ? kInPlace : (int)kRows;
    if (m == MR - 1) return tile<MR - 1, NV, PF, kStride>(kc, a, b, w, c, ldc, tail, e, pf, pf_lines, lda);
    tail_rows<MR - 1, NV, PF, TA>(m, kc, a, b, w, c, ldc, tail, e, pf, pf_lines, lda);
  }
}

// Rows [0, m), m >= kRows, of one panel's columns for one K block, in tiles of kRows rows: A packed
// (AS = kRows: tile t at a + t * kc * kRows) or in place (AS = kInPlace: rows lda floats apart).
template <int NV, int AS>
KILN_SGEMM_AVX512 void tall_rows(int64_t m, int64_t kc, const float* a, int64_t lda, const float* b, int64_t w,
                                 float* c, int64_t ldc, __mmask16 tail, const Epilogue& e, const float* pf) {
  const int64_t step = AS == kInPlace ? kRows * lda : kc * kRows;  // from one tile's A to the next's
  int64_t i = 0;
  // The residual moves with the rows.
  auto at = [&](int64_t row) {
    Epilogue f = e;
    if (f.r) f.r += row * ldc;
    return f;
  };
  if (pf) {
    // The tiles share the next block's kc * kPanel floats between them, kc / 4 lines each.
    const int64_t lines = kc * kPanel / 16, per = kc / 4;
    for (int64_t from = 0; i + kRows <= m; i += kRows, a += step, from += per)
      tile<kRows, NV, kShared, AS>(kc, a, b, w, c + i * ldc, ldc, tail, at(i), pf + from * 16,
                                   std::max<int64_t>(0, std::min(per, lines - from)), lda);
  }
  for (; i + kRows <= m; i += kRows, a += step)
    tile<kRows, NV, kNoPrefetch, AS>(kc, a, b, w, c + i * ldc, ldc, tail, at(i), nullptr, 0, lda);
  constexpr TailA kTail = AS == kInPlace ? kTailInPlace : kTailPacked;
  if (i < m)
    tail_rows<kRows, NV, kNoPrefetch, kTail>(m - i, kc, a, b, w, c + i * ldc, ldc, tail, at(i), nullptr, 0, lda);
}

// Rows [0, m) of one panel's columns for one K block: a block of fewer than kRows rows from its
// compact A, a taller one from packed A or, when lda > 0, from A's rows in place.
template <int NV>
KILN_SGEMM_AVX512 void panel_rows(int64_t m, int64_t kc, const float* a, int64_t lda, const float* b, int64_t w,
                                  float* c, int64_t ldc, __mmask16 tail, const Epilogue& e, const float* pf) {
  if (m < kRows) {
    if (pf) return tail_rows<kRows, NV, kWhole, kTailCompact>(m, kc, a, b, w, c, ldc, tail, e, pf, kc * kPanel / 16);
    return tail_rows<kRows, NV, kNoPrefetch, kTailCompact>(m, kc, a, b, w, c, ldc, tail, e);
  }
  if (lda > 0) return tall_rows<NV, kInPlace>(m, kc, a, lda, b, w, c, ldc, tail, e, pf);
  tall_rows<NV, kRows>(m, kc, a, 0, b, w, c, ldc, tail, e, pf);
}

// pf: the next panel block to fetch into L2 meanwhile (kc rows of kPanel floats), or null. lda > 0:
// A's rows are read in place, lda floats apart.
KILN_SGEMM_AVX512 void panel_block(int64_t m, int64_t kc, const float* a, int64_t lda, const float* b, int64_t cols,
                                   float* c, int64_t ldc, const Epilogue& e, const float* pf) {
  const int nv = (int)((cols + 15) / 16);
  const int64_t w = 16 * nv;
  const __mmask16 tail = cols % 16 ? (__mmask16)((1u << (cols % 16)) - 1) : (__mmask16)0xFFFF;
  static_assert(kPanel == 32, "a panel is one or two vectors");
  if (nv == 2) panel_rows<2>(m, kc, a, lda, b, w, c, ldc, tail, e, pf);
  else panel_rows<1>(m, kc, a, lda, b, w, c, ldc, tail, e, pf);
}

// Rows [0, m) of A (rows of lda floats, K columns) for every K block: block k0 at out + k0 * (m
// rounded up to kRows), in it tile t at t * kc * kRows, each kc groups of kRows values (rows past m
// are zero). 16 k of a tile's rows at a time: loaded row by row, transposed in registers, stored k
// by k. A tile's rows are read to their end before the next tile's: 12 streams of K floats that the
// prefetchers follow, where going through every tile per K block read each row in 1 KiB pieces (the
// FFN's second product, lda = 3072: packing 3.1 -> 2.7 % of DistilBERT-base fp32's run in perf, the
// run 1-2 % faster).
KILN_SGEMM_AVX512 void pack_a(int64_t m, int64_t K, const float* a, int64_t lda, float* out) {
  static_assert(kRows == 12, "the permutes below join 12-value columns");
  const int64_t padded = (m + kRows - 1) / kRows * kRows;
  const __mmask16 store = (__mmask16)((1u << kRows) - 1);
  // Indices for vpermt2ps: lanes 0-15 of the first operand, 16-31 of the second. Columns a, b, c, d
  // (12 values each) laid end to end are a0..a11 b0..b3 | b4..b11 c0..c7 | c8..c11 d0..d11.
  const __m512i kPackAB = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19);
  const __m512i kPackBC = _mm512_setr_epi32(4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i kPackCD = _mm512_setr_epi32(8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27);
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t rows = std::min(kRows, m - i0);
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
      const int64_t kc = std::min(kBlockK, K - k0);
      float* blk = out + k0 * padded + i0 * kc;  // tile i0 / kRows of block k0
      const float* src = a + i0 * lda + k0;
      for (int64_t kk = 0; kk < kc; kk += 16) {
        const int64_t n = std::min<int64_t>(16, kc - kk);
        const __mmask16 in = (__mmask16)((1u << n) - 1);
        __m512 v[16];
        for (int64_t r = 0; r < 16; ++r)
          v[r] = r < rows ? _mm512_maskz_loadu_ps(in, src + r * lda + kk) : _mm512_setzero_ps();
        transpose16(v);
        float* to = blk + kk * kRows;
        if (rows == kRows && n == 16) {
          // The 16 k's 12 values are 192 consecutive floats: 12 whole vectors, each drawn from two
          // transposed ones (4 k's make 3 vectors), instead of 16 masked 48-byte stores, 3 in 4 of which
          // cross a cache line (where perf put most of this function's samples; with whole vectors
          // pack_a went from 3.5 to 2.4 % of DistilBERT-base fp32's batch-1 run).
          for (int g = 0; g < 4; ++g) {
            const __m512 a = v[4 * g], b = v[4 * g + 1], c = v[4 * g + 2], d = v[4 * g + 3];
            _mm512_storeu_ps(to + 48 * g, _mm512_permutex2var_ps(a, kPackAB, b));
            _mm512_storeu_ps(to + 48 * g + 16, _mm512_permutex2var_ps(b, kPackBC, c));
            _mm512_storeu_ps(to + 48 * g + 32, _mm512_permutex2var_ps(c, kPackCD, d));
          }
          continue;
        }
        for (int64_t j = 0; j < n; ++j) _mm512_mask_storeu_ps(to + j * kRows, store, v[j]);
      }
    }
  }
}

// Rows [0, m) of A, m < kRows (a decoder step's few rows), for every K block at once: k's m values
// side by side (row r of k at out[k * m + r]), so block k0 starts at out + k0 * m. Padded to kRows
// values per k, as pack_a does, the tile's A took 12 times the L1 it needs (24 KiB at K = 512, beside
// the 32 KiB block of B being read and the next one being fetched): one row is the row itself.
KILN_SGEMM_AVX512 void pack_a_compact(int64_t m, int64_t K, const float* a, int64_t lda, float* out) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t r = 0; r < m; ++r) out[k * m + r] = a[r * lda + k];
}

// Whether tiles of kRows rows read A where it lies rather than from a packed copy: when its rows,
// lda floats apart, fall into enough different L1 sets that no set holds more than 3 of them (an L1D
// of 64 sets of 64-byte lines, as x86 cores' 32 and 48 KiB caches are). At lda = 768 (BERT-base's
// hidden size) 12 rows take 4 sets and reading in place saves the packing (2-5 % of DistilBERT-base's
// run); at 512, 1024 or 3072 they take 2 or 1 and the tile's loads evict each other (128 x 3072 x 768
// ran up to 30 % slower in place).
bool a_rows_in_place(int64_t lda) {
  int per_set[64] = {};
  for (int64_t r = 0; r < kRows; ++r)
    if (++per_set[(r * lda * (int64_t)sizeof(float) / 64) % 64] > 3) return false;
  return true;
}

// This thread's buffer for packed A, at least `floats` long.
float* a_scratch(size_t floats) {
  thread_local std::shared_ptr<Buffer> buf;
  if (!buf || buf->size() < floats * sizeof(float)) buf = Buffer::allocate(floats * sizeof(float));
  return static_cast<float*>(buf->data());
}

}  // namespace

bool PackedSgemmB::available() { return active_isa() == Isa::Avx512; }

PackedSgemmB::PackedSgemmB(const float* b, int64_t K, int64_t N, bool trans_b)
    : K_(K), N_(N), panels_((N + kPanel - 1) / kPanel) {
  // Every panel but the last is kPanel wide; the last is its column count rounded up to 16.
  const int64_t last_w = (N - (panels_ - 1) * kPanel + 15) / 16 * 16;
  const size_t floats = (size_t)(K * ((panels_ - 1) * kPanel + last_w));
  data_ = Buffer::allocate(std::max<size_t>(floats, 1) * sizeof(float));
  float* out = static_cast<float*>(data_->data());
  for (int64_t p = 0; p < panels_; ++p) {
    const int64_t j0 = p * kPanel, cols = std::min(kPanel, N - j0), w = p == panels_ - 1 ? last_w : kPanel;
    float* dst = out + K * j0;
    for (int64_t k = 0; k < K; ++k) {
      float* row = dst + k * w;
      if (trans_b) {
        for (int64_t j = 0; j < cols; ++j) row[j] = b[(j0 + j) * K + k];
      } else {
        std::memcpy(row, b + k * N + j0, (size_t)cols * sizeof(float));
      }
      for (int64_t j = cols; j < w; ++j) row[j] = 0.f;
    }
  }
}

void PackedSgemmB::run(int64_t M, const float* a, int64_t lda, float* c, int64_t ldc, float alpha, bool accumulate,
                       const float* bias, bool gelu, const float* residual) const {
  if (M <= 0 || N_ <= 0) return;
  const float* packed = static_cast<const float*>(data_->data());
  const float* packed_end = packed + data_->size() / sizeof(float);
  if (K_ == 0) {
    for (int64_t i = 0; i < M; ++i) {
      float* row = c + i * ldc;
      if (!accumulate) std::fill(row, row + N_, 0.f);
      if (bias)
        for (int64_t j = 0; j < N_; ++j) row[j] += bias[j];
      if (gelu) vec::gelu_erf(row, row, N_);
      if (residual)
        for (int64_t j = 0; j < N_; ++j) row[j] += residual[i * ldc + j];
    }
    return;
  }
  const int64_t mblocks = (M + kBlockM - 1) / kBlockM;
  // Groups of at most kGroup panels, as many as the threads (or a multiple) when there are few M
  // blocks, so that the threads get equal shares; the panels are split evenly between the groups.
  const int64_t threads = std::max(1, thread_count());
  int64_t groups = (panels_ + kGroup - 1) / kGroup;
  if (mblocks % threads != 0 && mblocks < 4 * threads)
    groups = std::min(panels_, (groups + threads - 1) / threads * threads);
  // One job: an M block and a group of panels; a thread takes a contiguous run of jobs.
  const bool a_in_place = a_rows_in_place(lda);
  auto jobs = [&](long j0, long j1) {
    float* ap = a_scratch((size_t)(std::min(M, kBlockM) + kRows) * K_);
    int64_t packed_mb = -1;
    for (long job = j0; job < j1; ++job) {
      const int64_t mb = job / groups, g = job % groups;
      const int64_t m0 = mb * kBlockM, rows = std::min(kBlockM, M - m0);
      const bool compact = rows < kRows;  // panel_rows reads such a block's A compact
      const int64_t padded = compact ? rows : (rows + kRows - 1) / kRows * kRows;
      const int64_t p0 = panels_ * g / groups, p1 = panels_ * (g + 1) / groups;
      const bool in_place = !compact && a_in_place;
      const float* at = ap;
      if ((compact && rows == 1) || in_place) {
        at = a + m0 * lda;  // one row (already the compact layout), or rows read in place
      } else if (mb != packed_mb) {
        if (compact) pack_a_compact(rows, K_, a + m0 * lda, lda, ap);
        else pack_a(rows, K_, a + m0 * lda, lda, ap);
      }
      if (!in_place) packed_mb = mb;
      // One K block of one panel, fetching `next` meanwhile.
      auto block = [&](int64_t p, int64_t k0, bool in_memory_order) {
        const int64_t n0 = p * kPanel, cols = std::min(kPanel, N_ - n0);
        const int64_t w = (cols + 15) / 16 * 16;
        const int64_t kc = std::min(kBlockK, K_ - k0);
        const bool last = k0 + kc == K_;
        Epilogue e{alpha, k0 > 0 || accumulate, last && bias ? bias + n0 : nullptr,
                   last && residual ? residual + m0 * ldc + n0 : nullptr};
        const float* blk = packed + K_ * n0 + k0 * w;
        const float* next = nullptr;
        if (in_memory_order) {
          // The next kc * kPanel floats in memory: this panel's next block, or the next panel's first.
          next = blk + kc * w;
          if (next + kc * kPanel > packed_end) next = nullptr;
        } else if (p + 1 < p1 && p + 1 < panels_ - 1) {
          next = packed + K_ * (n0 + kPanel) + k0 * kPanel;  // the next panel's block
        } else if (p + 1 == p1 && !last) {
          next = packed + K_ * (p0 * kPanel) + (k0 + kc) * kPanel;  // the next K block's first panel
        }
        if (in_place) panel_block(rows, kc, at + k0, lda, blk, cols, c + m0 * ldc + n0, ldc, e, next);
        else panel_block(rows, kc, at + k0 * padded, 0, blk, cols, c + m0 * ldc + n0, ldc, e, next);
      };
      if (rows < kRows) {
        // One tile of rows (a decoder step's): B is read once, so take it in memory order, each
        // panel's K blocks in turn and then the next panel's, one stream the tile fetches ahead of
        // itself. (The K blocks of a panel still add up in the same order, so the sums are the same.)
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t k0 = 0; k0 < K_; k0 += kBlockK) block(p, k0, true);
      } else {
        for (int64_t k0 = 0; k0 < K_; k0 += kBlockK)
          for (int64_t p = p0; p < p1; ++p) block(p, k0, false);
      }
      if (gelu) {
        const int64_t n0 = p0 * kPanel, cols = std::min(p1 * kPanel, N_) - n0;
        for (int64_t i = 0; i < rows; ++i) vec::gelu_erf(c + (m0 + i) * ldc + n0, c + (m0 + i) * ldc + n0, cols);
      }
    }
  };
  // A job's cost: its FMAs, and its slice of B read from memory (what a product of few rows, a
  // decoder step's, is made of: worth both threads though its FMAs alone are few).
  parallel_for((long)(mblocks * groups), (long)((std::min(M, kBlockM) + kRows) * K_ * (N_ / groups + 1) / 64), jobs);
}

}  // namespace kiln::cpu
