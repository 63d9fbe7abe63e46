// The u8 x s8 product with a packed constant B on AMX tiles (qgemm_vnni.h says when it runs).
//
// A row tile of 32 rows times a panel of 32 columns is four 16 x 16 tiles of int32 sums (tmm0-3),
// made over K 64 bytes at a time: two 16 x 64-byte tiles of A (tmm4-5, rows m0 .. m0+15 and m0+16 ..
// m0+31, read in place at A's row stride) and two tiles of B (tmm6-7, the panel's two 16-column halves:
// 16 groups of 4 rows of K, 64 bytes each, 128 bytes apart in the packed panel). Each tdpbusd is 16 x
// 16 x 64 multiply-adds, 16 times what one vpdpbusd does. K past its last whole 64 (in groups of 4:
// vnni_gemm pads A's rows to a multiple of 4) is summed by vpdpbusd before the epilogue. A last row tile of fewer rows
// gets a tile configuration of its own (fewer rows in tmm0-5; one A tile when it has 16 rows or fewer).
//
// The sums then go to an aligned 32 x 32 buffer (4 KiB, in L1) and through the VNNI kernel's epilogue
// row by row (qgemm_epilogue.h): the same int32 sums and the same operations, so the same bits.
//
// Compiled for AMX here only (KILN_TARGET(Avx512Amx)); called only where amx_int8_active().
#include "runtime/kernels/cpu/qgemm_epilogue.h"

// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593, fixed in GCC 13): silence that one warning here, as
// qgemm_vnni.cc does.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "runtime/kernels/cpu/gelu_avx512.h"

namespace kiln::cpu::qgemm {

namespace {

#define KILN_AMX KILN_TARGET(Avx512Amx)

constexpr int kTile = 16;                    // rows of a tile, and int32 columns of a tile of sums
constexpr int64_t kL1PanelBytes = 32 << 10;  // panels up to this size stay in L1 across a panel's row tiles

// ldtilecfg's 64-byte operand, palette 1.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tmm0 .. tmm15 (8 exist)
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// Tiles for a row tile of r0 + r1 rows (r0 <= 16 rows in the first A tile, r1 in the second, 0 when
// there is none).
KILN_AMX void configure(int r0, int r1) {
  TileConfig c;
  auto set = [&](int t, int rows) {
    c.rows[t] = (uint8_t)rows;
    c.colsb[t] = rows ? 64 : 0;
  };
  set(0, r0);  // sums, rows 0-15, columns 0-15 and 16-31
  set(1, r0);
  set(2, r1);  // sums, rows 16-31
  set(3, r1);
  set(4, r0);  // A
  set(5, r1);
  set(6, kTile);  // B
  set(7, kTile);
  // The asm of _tile_loadconfig names only the operand's first 8 bytes as read: keep the compiler
  // from dropping or moving the stores of the rest.
  __asm__ volatile("" ::"m"(c) : "memory");
  _tile_loadconfig(&c);
}

// Sums of rows m0 .. m0+r0+r1-1 times panel p over all of K into `sums` (32 x 32, row stride 128 bytes).
// While the tiles work, `next` (next_bytes of the next panel, or null) is asked into L2, spread over the
// steps over K: the panels of a product's weights come from L3 or memory (a whole model's weights do not
// stay in L2 between runs), and without this the first row tile of each panel waited for them.
template <bool Two>
KILN_AMX void product(const Job& j, int64_t m0, int64_t p, int32_t (*sums)[kPanel], const int8_t* next,
                      int64_t next_bytes) {
  const int8_t* bp = j.b->panel(p);
  const uint8_t* a = j.a + m0 * j.lda;
  const uint8_t* a1 = a + kTile * j.lda;
  const long lda = (long)j.lda;
  const int64_t steps = j.b->k4 / kTile;  // K / 64
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  // A and B are written by other code before this call; the tile loads' asm names no memory operand.
  __asm__ volatile("" ::: "memory");
  const int64_t lines = next ? (next_bytes / 64 + steps - 1) / steps : 0;  // lines of `next` per step
  for (int64_t s = 0; s < steps; ++s) {
    const int8_t* b = bp + s * kTile * kBlock;
    for (int64_t l = 0; l < lines; ++l) {
      const int64_t at = (s * lines + l) * 64;
      if (at < next_bytes) _mm_prefetch(reinterpret_cast<const char*>(next + at), _MM_HINT_T1);
    }
    _tile_loadd(4, a + s * 64, lda);
    _tile_loadd(6, b, kBlock);
    _tile_loadd(7, b + 64, kBlock);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (Two) {
      _tile_loadd(5, a1 + s * 64, lda);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, sums[0], kPanel * 4);
  _tile_stored(1, sums[0] + kTile, kPanel * 4);
  if constexpr (Two) {
    _tile_stored(2, sums[kTile], kPanel * 4);
    _tile_stored(3, sums[kTile] + kTile, kPanel * 4);
  }
}

// The epilogue of rows m0 .. m0+rows-1 of panel p from `sums`, as the VNNI kernel's tile() applies it.
KILN_AMX void finish_rows(const Job& j, int64_t m0, int rows, int64_t p, const int32_t (*sums)[kPanel], Range16* rg) {
  const VnniEpilogue& e = *j.e;
  const int64_t N = j.b->N, col = p * kPanel, cols = std::min<int64_t>(kPanel, N - col);
  const __mmask16 lo = lanes(cols), hi = lanes(cols - 16);
  const __m512i i0 = j.init ? _mm512_load_si512(j.init + col) : _mm512_setzero_si512();
  const __m512i i1 = j.init ? _mm512_load_si512(j.init + col + 16) : _mm512_setzero_si512();
  const bool whole = whole_panel(e, cols);
  const PanelConsts c = whole ? panel_consts(e, col) : PanelConsts{};
  // The groups of 4 rows of K past the last whole 64 (K not a multiple of 64): by vpdpbusd here, as
  // the VNNI kernel sums them.
  const int64_t g0 = j.b->k4 / kTile * kTile, g1 = j.b->k4;
  const int8_t* bp = j.b->panel(p);
  alignas(64) float stage[kPanel];
  for (int r = 0; r < rows; ++r) {
    const int64_t m = m0 + r;
    __m512i s0 = _mm512_add_epi32(_mm512_load_si512(sums[r]), i0);
    __m512i s1 = _mm512_add_epi32(_mm512_load_si512(sums[r] + 16), i1);
    for (int64_t g = g0; g < g1; ++g) {
      int32_t four;
      std::memcpy(&four, j.a + m * j.lda + 4 * g, 4);
      const __m512i av = _mm512_set1_epi32(four);
      s0 = _mm512_dpbusd_epi32(s0, av, _mm512_load_si512(bp + g * kBlock));
      s1 = _mm512_dpbusd_epi32(s1, av, _mm512_load_si512(bp + g * kBlock + 64));
    }
    float* out = e.out_f32 ? e.out_f32 + m * N + col : nullptr;
    if (!e.gelu) {
      if (whole) {
        finish_panel_row(s0, s1, c, e.residual ? e.residual + m * N + col : nullptr, nullptr, out, rg);
      } else {
        finish(s0, j, m, col, lo, nullptr, rg);
        if (hi) finish(s1, j, m, col + 16, hi, nullptr, rg);
      }
      continue;
    }
    // GELU after the row is finished into `stage`, as the VNNI kernel does with its staged tile.
    if (whole) {
      finish_panel_row(s0, s1, c, nullptr, stage, nullptr, nullptr);
    } else {
      finish(s0, j, m, col, lo, stage, nullptr);
      if (hi) finish(s1, j, m, col + 16, hi, stage + 16, nullptr);
    }
    const __m512 g0 = gelu_erf16(_mm512_load_ps(stage));
    _mm512_mask_storeu_ps(out, lo, g0);
    if (rg) fold(rg, g0, lo);
    if (hi) {
      const __m512 g1 = gelu_erf16(_mm512_load_ps(stage + 16));
      _mm512_mask_storeu_ps(out + 16, hi, g1);
      if (rg) fold(rg, g1, hi);
    }
  }
}

}  // namespace

KILN_AMX void amx_run_jobs(const Job& job, const Layout& l, long j0, long j1) {
  const VnniEpilogue& e = *job.e;
  const bool want_range = e.range && e.scale;
  Range16 rg{_mm512_set1_ps(std::numeric_limits<float>::infinity()),
             _mm512_set1_ps(-std::numeric_limits<float>::infinity())};
  alignas(64) int32_t sums[2 * kTile][kPanel];
  int configured = -1;  // rows of the configuration loaded (-1: none yet)
  for (long jb = j0; jb < j1; ++jb) {
    const int64_t blk = jb / l.per_block, rest = jb % l.per_block;
    const int64_t p = rest / l.btiles, t = rest % l.btiles;
    const int64_t m0 = (blk * l.btiles + t) * l.tile_rows;
    if (m0 >= l.M) continue;
    const int rows = (int)std::min<int64_t>(l.tile_rows, l.M - m0);
    if (rows != configured) {
      configure(std::min(rows, kTile), std::max(rows - kTile, 0));
      configured = rows;
    }
    // Each row tile of a panel asks for its share of the next panel (see product()), where a panel is
    // larger than L1: a product with K = 3072 (96 KiB panels) ran 15 % faster with cold weights; with
    // K = 768 (24 KiB panels, which stay in L1 across the row tiles) the prefetches cost 4-19 %
    // (128 rows, interleaved in one process).
    const int64_t panel_bytes = job.b->k4 * kBlock, share = (panel_bytes + l.btiles - 1) / l.btiles;
    const int8_t* next = panel_bytes > kL1PanelBytes && p + 1 < l.panels ? job.b->panel(p + 1) + t * share : nullptr;
    const int64_t next_bytes = next ? std::max<int64_t>(0, std::min(share, panel_bytes - t * share)) : 0;
    if (rows > kTile) product<true>(job, m0, p, sums, next, next_bytes);
    else product<false>(job, m0, p, sums, next, next_bytes);
    finish_rows(job, m0, rows, p, sums, want_range ? &rg : nullptr);
  }
  // Back to the initial state: a thread holding no tile data saves and restores none on a switch.
  if (configured >= 0) _tile_release();
  if (want_range) e.range->merge(_mm512_reduce_min_ps(rg.lo), _mm512_reduce_max_ps(rg.hi));
}

}  // namespace kiln::cpu::qgemm
