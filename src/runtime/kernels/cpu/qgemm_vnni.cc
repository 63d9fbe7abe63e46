// AVX512-VNNI u8 x s8 product with a packed constant B and the dequantizing epilogue in registers
// (see qgemm_vnni.h). Compiled for AVX512-VNNI only in this file; called only when cpuid says so.
#include "runtime/kernels/cpu/qgemm_vnni.h"

// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593, fixed in GCC 13): silence that one warning here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <array>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/threads.h"
#include "runtime/kernels/cpu/gelu_avx512.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/qgemm_epilogue.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/kernels/cpu/weight_pages.h"

namespace kiln::cpu {

namespace {

using qgemm::finish;
using qgemm::fold;
using qgemm::Job;
using qgemm::kBlock;
using qgemm::kPanel;
using qgemm::lanes;
using qgemm::Layout;
using qgemm::Range16;

constexpr int kMR = 12;               // rows of A per tile: 24 accumulators + 2 B registers + 1 broadcast
constexpr int64_t kAmxRows = 32;      // rows of A per tile of the AMX kernel (qgemm_amx.cc)
constexpr int64_t kInitStack = 4096;  // columns whose start values fit the stack buffer (16 KiB)
static_assert(kMR == kTileRows, "row tiles (row_tiles.h) are the kernel's row tiles");

// A tile of a whole panel through the whole-panel epilogue (qgemm_epilogue.h), row by row; with
// `stage` the rows go there (GELU follows).
template <int MR>
KILN_VNNI inline void finish_panel(const __m512i (&acc0)[MR], const __m512i (&acc1)[MR], const VnniEpilogue& e,
                                   int64_t N, int64_t m0, int64_t col, float (*stage)[kPanel], Range16* rg) {
  const qgemm::PanelConsts c = qgemm::panel_consts(e, col);
  const float* res = e.residual ? e.residual + m0 * N + col : nullptr;
  float* out = e.out_f32 + m0 * N + col;
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r)
    qgemm::finish_panel_row(acc0[r], acc1[r], c, res ? res + r * N : nullptr, stage ? stage[r] : nullptr, out + r * N,
                            rg);
}

// MR rows of A (from m0) times panel p of B over all of K; the sums stay in registers until the
// epilogue. Tiled: A in row tiles, the MR x 4 bytes of each step over K side by side (m0 is a multiple
// of 12 and MR the tile's row count).
template <int MR, bool Tiled>
KILN_VNNI void tile(const Job& j, int64_t m0, int64_t p, bool prefetch, const int8_t* next, Range16* rg) {
  const int8_t* bp = j.b->panel(p);
  const int64_t lda = j.lda, k4 = j.b->k4;
  const uint8_t* a = Tiled ? j.a + m0 * k4 * 4 : j.a + m0 * lda;
  __m512i acc0[MR], acc1[MR];
  {
    const __m512i i0 = j.init ? _mm512_load_si512(j.init + p * kPanel) : _mm512_setzero_si512();
    const __m512i i1 = j.init ? _mm512_load_si512(j.init + p * kPanel + 16) : _mm512_setzero_si512();
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      acc0[r] = i0;
      acc1[r] = i1;
    }
  }
  {
    // The lines the epilogue will write, and the residual rows it adds: asked for now, they arrive
    // while the sums are made. An output block freed a layer ago is out of L2 (the FFN's 1.5 MB at
    // 128 tokens), and a store to it would first wait for each line: 128 x 768 x 3072 into 16
    // outputs in turn ran 1020 µs without this, 975 with it, and as before into one hot output.
    const int64_t N = j.b->N, at = m0 * N + p * kPanel;
    static_assert(sizeof(float) == sizeof(int32_t), "either output is 4 bytes a value");
    const void* base = j.e->out_f32 ? static_cast<const void*>(j.e->out_f32) : j.e->out_i32;
    const char* out = base ? static_cast<const char*>(base) + at * 4 : nullptr;
    const float* res = j.e->residual ? j.e->residual + at : nullptr;
    for (int r = 0; r < MR; ++r) {
      if (out) {
        _mm_prefetch(out + r * N * 4, _MM_HINT_T0);
        _mm_prefetch(out + r * N * 4 + 64, _MM_HINT_T0);
      }
      if (res) {
        _mm_prefetch(reinterpret_cast<const char*>(res + r * N), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(res + r * N + 16), _MM_HINT_T0);
      }
    }
  }
  for (int64_t k = 0; k < k4; ++k) {
    const __m512i b0 = _mm512_load_si512(bp + k * kBlock), b1 = _mm512_load_si512(bp + k * kBlock + 64);
    if (prefetch) {
      // The first row tile of a panel (in each block of rows) brings the panel in from memory
      // (weights do not stay in cache between runs): ask for it well ahead.
      _mm_prefetch(reinterpret_cast<const char*>(bp + (k + 16) * kBlock), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bp + (k + 16) * kBlock + 64), _MM_HINT_T0);
    }
    if (next && (k & 3) == 0) _mm_prefetch(reinterpret_cast<const char*>(next + k * 16), _MM_HINT_T1);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      int32_t four;
      if constexpr (Tiled)
        std::memcpy(&four, a + k * (4 * MR) + 4 * r, 4);
      else
        std::memcpy(&four, a + r * lda + 4 * k, 4);
      const __m512i av = _mm512_set1_epi32(four);
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, b0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, b1);
    }
  }
  const int64_t col = p * kPanel, cols = std::min<int64_t>(kPanel, j.b->N - col);
  const __mmask16 lo = lanes(cols), hi = lanes(cols - 16);
  const VnniEpilogue& e = *j.e;
  const bool whole = qgemm::whole_panel(e, cols);
  if (!e.gelu && whole) return finish_panel<MR>(acc0, acc1, e, j.b->N, m0, col, nullptr, rg);
  if (!j.e->gelu) {
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      finish(acc0[r], j, m0 + r, col, lo, nullptr, rg);
      if (hi) finish(acc1[r], j, m0 + r, col + 16, hi, nullptr, rg);
    }
    return;
  }
  // GELU over the finished tile in a loop of its own: applied inside the epilogue, next to the 24
  // live sums, it ran slower (register pressure). The tile waits in an aligned buffer in L1 (full
  // stores, which loads can take straight from the store buffer; a masked store cannot forward).
  alignas(64) float stage[MR][kPanel];
  if (whole) {
    finish_panel<MR>(acc0, acc1, e, j.b->N, m0, col, stage, nullptr);
  } else {
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      finish(acc0[r], j, m0 + r, col, lo, stage[r], nullptr);
      if (hi) finish(acc1[r], j, m0 + r, col + 16, hi, stage[r] + 16, nullptr);
    }
  }
  float* out = j.e->out_f32 + m0 * j.b->N + col;
  for (int r = 0; r < MR; ++r) {
    float* row = out + r * j.b->N;
    const __m512 g0 = gelu_erf16(_mm512_load_ps(stage[r]));
    _mm512_mask_storeu_ps(row, lo, g0);
    if (rg) fold(rg, g0, lo);
    if (hi) {
      const __m512 g1 = gelu_erf16(_mm512_load_ps(stage[r] + 16));
      _mm512_mask_storeu_ps(row + 16, hi, g1);
      if (rg) fold(rg, g1, hi);
    }
  }
}

using TileFn = void (*)(const Job&, int64_t, int64_t, bool, const int8_t*, Range16*);

template <bool Tiled, int... R>
constexpr auto make_tiles(std::integer_sequence<int, R...>) {
  return std::array<TileFn, sizeof...(R)>{&tile<R + 1, Tiled>...};
}
const auto kTiles = make_tiles<false>(std::make_integer_sequence<int, kMR>{});
const auto kTilesTiled = make_tiles<true>(std::make_integer_sequence<int, kMR>{});

// Jobs j0 .. j1-1 on this thread; the range of their float outputs, when asked for, is merged once.
KILN_VNNI void run_jobs(const Job& job, const Layout& l, long j0, long j1) {
  const VnniEpilogue& e = *job.e;
  const bool want_range = e.range && e.scale;
  Range16 rg{_mm512_set1_ps(std::numeric_limits<float>::infinity()),
             _mm512_set1_ps(-std::numeric_limits<float>::infinity())};
  for (long jb = j0; jb < j1; ++jb) {
    int64_t blk = jb / l.per_block, rest = jb % l.per_block;
    int64_t p = rest / l.btiles, t = rest % l.btiles;
    int64_t m0 = (blk * l.btiles + t) * kMR;
    if (m0 >= l.M) continue;
    int64_t rows = std::min<int64_t>(kMR, l.M - m0);
    // Row tiles 1 to 8 of a panel bring the next panel into L2, an eighth each, one line every 4 steps
    // over K, while their own panel is in L1 (the first tile reads its panel from L3 or memory).
    const bool ahead = t >= 1 && t <= 8 && p + 1 < l.panels;
    const int8_t* next = ahead ? job.b->panel(p + 1) + (t - 1) * 16 * job.b->k4 : nullptr;
    (job.tiled ? kTilesTiled : kTiles)[rows - 1](job, m0, p, t == 0, next, want_range ? &rg : nullptr);
  }
  if (want_range) e.range->merge(_mm512_reduce_min_ps(rg.lo), _mm512_reduce_max_ps(rg.hi));
}

}  // namespace

bool vnni_gemm_supported() {
  return avx512_vnni_active();
}

bool amx_gemm_supported() {
  return amx_int8_active();
}

bool vnni_gemm_reads_row_tiles() {
  return vnni_gemm_supported() && !amx_gemm_supported();
}

VnniPackedB vnni_pack_b(const int8_t* b, int64_t K, int64_t N) {
  VnniPackedB p;
  p.K = K;
  p.N = N;
  p.k4 = (K + 3) / 4;
  p.panels = (N + kPanel - 1) / kPanel;
  p.data = allocate_weight_bytes((size_t)(p.panels * p.k4 * kBlock));
  for (int64_t pn = 0; pn < p.panels; ++pn) {
    int8_t* dst = p.data.get() + pn * p.k4 * kBlock;
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

void vnni_gemm(int64_t M, const uint8_t* a, int64_t lda, const VnniPackedB& b, const VnniEpilogue& e, bool tiled,
               bool amx) {
  if (M <= 0 || b.N <= 0) return;
  KILN_CHECK(!amx || amx_gemm_supported(), InternalError, "vnni_gemm: AMX asked for where the CPU cannot run it");
  amx = amx && !tiled;
  KILN_CHECK(!tiled || row_tiles_fit(b.K), InternalError, "vnni_gemm: row tiles with K = {}", b.K);
  // The kernel reads A four bytes at a time: pad K to a multiple of 4 (zeros meet B's zero rows).
  std::vector<uint8_t> padded;
  if (!tiled && b.K % 4 != 0) {
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
      if (tiled) {
        // Row m's bytes in its tile: 4 of every group of rows x 4.
        const int64_t m0 = m / kMR * kMR, rows = std::min<int64_t>(kMR, M - m0);
        const uint8_t* t = a + m0 * b.K + (m - m0) * 4;
        for (int64_t g = 0; g < b.k4; ++g)
          for (int i = 0; i < 4; ++i) s += t[g * rows * 4 + i];
      } else {
        for (int64_t k = 0; k < b.K; ++k) s += a[m * lda + k];
      }
      rowsum[m] = s;
    }
  }
  // One zero point of A for all rows (DynamicQuantizeLinear's): its term joins the sums' start.
  VnniEpilogue ez = e;
  std::vector<int32_t> init_heap;
  alignas(64) int32_t init_stack[kInitStack];
  const int32_t* init = nullptr;
  if (e.za_count == 1 && e.za[0] != 0) {
    const int64_t padded = b.panels * kPanel;
    int32_t* buf = init_stack;
    if (padded > kInitStack) {
      init_heap.resize((size_t)padded + 16);
      buf = init_heap.data() + (16 - (reinterpret_cast<uintptr_t>(init_heap.data()) / 4) % 16) % 16;
    }
    const uint32_t za = (uint32_t)e.za[0];  // wrapping, as the epilogue's vpmulld
    for (int64_t n = 0; n < padded; ++n) buf[n] = n < b.N ? (int32_t)(za * (uint32_t)e.colterm[n]) : 0;
    init = buf;
    ez.za_count = 0;
  }
  Job job{a, lda, M, &b, &ez, rowsum.data(), tiled, init};
  // Rows of A are taken in blocks small enough to stay in L2 (kBlockBytes of A); within a block,
  // consecutive jobs share a panel of B, so the panel stays in L1 across the block's row tiles and the
  // block's rows stay in L2 across the panels. One block (the whole of A) at 128 tokens; at larger
  // batches A would otherwise come from L3 once per panel.
  // The block's output is kept to 2 MiB too: with 3072 columns, 456 rows of output (three 4 KiB
  // pages a row) beside the block's A and all of B took more pages than the TLB holds, and a product of
  // 4096 x 768 x 3072 ran 25 % slower than 32 products of 128 rows. 2 MiB rather than 1 keeps 128
  // tokens x 3072 columns (the FFN's first product at batch 1, 1.5 MB) one block, so B is read once
  // instead of twice: 3.5 % faster, interleaved in one process (cold B, GELU); 512 and 4096 rows
  // alike either way.
  // The AMX kernel's row tiles are 32 rows (two 16-row tiles of A); the same blocks.
  constexpr int64_t kBlockBytes = 384 << 10, kOutBlockBytes = 2 << 20;
  const int64_t rows = amx ? kAmxRows : kMR;
  const int64_t mtiles = (M + rows - 1) / rows;
  const int64_t max_tiles =
      std::max<int64_t>(1, std::min(kBlockBytes / (rows * b.k4 * 4), kOutBlockBytes / (rows * b.N * 4)));
  const int64_t blocks = (mtiles + max_tiles - 1) / max_tiles;
  const int64_t btiles = (mtiles + blocks - 1) / blocks;  // row tiles per block (the last may have fewer)
  const int64_t per_block = b.panels * btiles;
  const Layout layout{M, b.panels, btiles, per_block, rows};
  // What a job costs, in the units parallel_for weighs work by: the AMX kernel's MACs go ~6x faster.
  const long cost = amx ? kAmxRows * kPanel * b.K / 96 : kMR * kPanel * b.K / 16;
  if (amx) parallel_for(blocks * per_block, cost, [&](long j0, long j1) { qgemm::amx_run_jobs(job, layout, j0, j1); });
  else parallel_for(blocks * per_block, cost, [&](long j0, long j1) { run_jobs(job, layout, j0, j1); });
}

}  // namespace kiln::cpu
