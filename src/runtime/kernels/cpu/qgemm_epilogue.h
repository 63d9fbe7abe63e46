// What kiln's two u8 x s8 kernels for a packed constant B share (qgemm_vnni.h): the job they are
// given and the epilogue that turns a finished row of int32 sums into the output (zero-point
// correction, scales, bias, residual, or int32). The VNNI kernel (qgemm_vnni.cc) keeps its sums in
// zmm registers; the AMX kernel (qgemm_amx.cc) stores its tiles of sums to L1 and reads them back row
// by row. Both go through the same functions below, so both write the same bits for the same sums.
// Included only by those two files; compiled for AVX512-VNNI (the AMX kernel's target includes it).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/qgemm_vnni.h"

namespace kiln::cpu::qgemm {

#define KILN_VNNI KILN_TARGET(Avx512Vnni)

constexpr int kPanel = 32;   // columns of B per panel (two 16-lane registers)
constexpr int kBlock = 128;  // bytes of one packed group of 4 rows of K

struct Job {
  const uint8_t* a;
  int64_t lda, M;
  const VnniPackedB* b;
  const VnniEpilogue* e;
  const int32_t* rowsum;  // M values when e->zb is set
  bool tiled;             // a is in row tiles (row_tiles.h), lda unused
  // With one zero point of A for every row: za * colterm[n], padded with zeros to whole panels. The
  // sums start from it (or have it added when they are done: int32 sums wrap alike in either order,
  // so every result is the same), and the epilogue has no za term (e->za_count is then 0).
  const int32_t* init;
};

// Which tiles the jobs are: job = (row block, panel, row tile of the block), in that order; a row
// tile has `tile_rows` rows.
struct Layout {
  int64_t M, panels, btiles, per_block, tile_rows;
};

KILN_VNNI inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// [min, max] of the float outputs a thread wrote, folded in while they are in registers; a NaN is
// passed over, as DynamicQuantizeLinear's own reduction does.
struct Range16 {
  __m512 lo, hi;
};
KILN_VNNI inline void fold(Range16* rg, __m512 v, __mmask16 mask) {
  rg->lo = _mm512_mask_min_ps(rg->lo, mask, v, rg->lo);
  rg->hi = _mm512_mask_max_ps(rg->hi, mask, v, rg->hi);
}

// One finished 16-column half-row: correction, then float (scale, bias) or int32, masked store. With
// `stage` the float values go there instead (16 floats, aligned; GELU follows), else the range
// folds them when asked.
KILN_VNNI inline void finish(__m512i v, const Job& j, int64_t m, int64_t col, __mmask16 mask, float* stage, Range16* rg) {
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
    if (e.residual) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, e.residual + m * N + col));
    if (stage) {
      _mm512_store_ps(stage, f);
      return;
    }
    _mm512_mask_storeu_ps(e.out_f32 + m * N + col, mask, f);
    if (rg) fold(rg, f, mask);
  } else {
    _mm512_mask_storeu_epi32(e.out_i32 + m * N + col, mask, v);
  }
}

// The float epilogue of a whole panel (32 columns) when no zero-point term is left for it (one zero
// point of A, folded into the sums, and no zero points of B: what a quantized model's products are):
// the panel's scales and bias loaded once, whole-vector loads and stores, and no per-vector tests of
// the epilogue's fields. The same operations in the same order as finish(), so the same bits.
struct PanelConsts {
  __m512 s0, s1, b0, b1;
  bool bias;
};
KILN_VNNI inline PanelConsts panel_consts(const VnniEpilogue& e, int64_t col) {
  PanelConsts c;
  c.s0 = _mm512_loadu_ps(e.scale + col);
  c.s1 = _mm512_loadu_ps(e.scale + col + 16);
  c.bias = e.bias != nullptr;
  c.b0 = c.bias ? _mm512_loadu_ps(e.bias + col) : _mm512_setzero_ps();
  c.b1 = c.bias ? _mm512_loadu_ps(e.bias + col + 16) : _mm512_setzero_ps();
  return c;
}

// One row of a whole panel: `res` (the residual's row at the panel, or null); with `stage` the row
// goes there (32 floats, aligned; GELU follows), else to `out`, and the range folds it when asked.
KILN_VNNI inline void finish_panel_row(__m512i acc0, __m512i acc1, const PanelConsts& c, const float* res, float* stage,
                                       float* out, Range16* rg) {
  // The product rounded before the bias is added, as finish() does: by the explicitly rounded
  // multiply, which the compiler does not contract into an FMA with the add (with the bias's test
  // moved out of the loop, a plain multiply and add were contracted, and the bits changed).
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  __m512 f0 = _mm512_mul_round_ps(_mm512_cvtepi32_ps(acc0), c.s0, kNearest);
  __m512 f1 = _mm512_mul_round_ps(_mm512_cvtepi32_ps(acc1), c.s1, kNearest);
  if (c.bias) {
    f0 = _mm512_add_ps(f0, c.b0);
    f1 = _mm512_add_ps(f1, c.b1);
  }
  if (res) {
    f0 = _mm512_add_ps(f0, _mm512_loadu_ps(res));
    f1 = _mm512_add_ps(f1, _mm512_loadu_ps(res + 16));
  }
  if (stage) {
    _mm512_store_ps(stage, f0);
    _mm512_store_ps(stage + 16, f1);
    return;
  }
  _mm512_storeu_ps(out, f0);
  _mm512_storeu_ps(out + 16, f1);
  if (rg) {
    fold(rg, f0, (__mmask16)0xFFFF);
    fold(rg, f1, (__mmask16)0xFFFF);
  }
}

// Whether a tile of panel column `col` (`cols` of its 32 columns in the output) takes the whole-panel
// epilogue.
inline bool whole_panel(const VnniEpilogue& e, int64_t cols) {
  return cols == kPanel && e.scale && e.za_count == 0 && !e.zb;
}

// The AMX kernel (qgemm_amx.cc): jobs j0 .. j1-1 of `l` (row tiles of 32 rows), A row-major (K padded
// to a multiple of 4). Only where amx_int8_active().
void amx_run_jobs(const Job& job, const Layout& l, long j0, long j1);

}  // namespace kiln::cpu::qgemm
