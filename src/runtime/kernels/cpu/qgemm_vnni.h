// kiln's own u8 x s8 matrix product for AVX512-VNNI CPUs, for a constant B packed once.
//
// Why not oneDNN here: oneDNN's brgemm computes the raw product fast, but the zero-point correction
// and the dequantization then take extra passes over every int32 result (and a reorder per call),
// which cost more than the product itself at transformer sizes. This kernel keeps a 12 x 32 tile of
// int32 sums in registers over the whole of K and applies the correction, the scales and the bias
// before the tile leaves the registers, so each output is written once, as float.
//
// B (K x N, s8) is packed in panels of 32 columns; within a panel, each group of 4 rows of K is one
// 128-byte block: for column c (0..31) the 4 bytes k0..k3 side by side, the layout vpdpbusd reads.
// K and N are padded with zeros to multiples of 4 and 32.
//
// On CPUs with AMX (Sapphire Rapids and later) the same packed B feeds a second kernel on the tile
// unit (qgemm_amx.cc): 16 groups of 4 rows of a panel's half are one 16 x 64-byte B tile read at a
// stride of 128 bytes, so nothing is packed twice (K mod 64, if any, by vpdpbusd). It takes row-major A and
// runs the same epilogue (qgemm_epilogue.h) on the same int32 sums: the same bits as the VNNI kernel.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/kernels/cpu/value_range.h"

namespace kiln::cpu {

// Whether this CPU (and the active ISA) can run the kernel.
bool vnni_gemm_supported();
// Whether the AMX kernel may run: amx_int8_active() (isa.h).
bool amx_gemm_supported();
// Whether a session's int8 products read quantized activations in row tiles (row_tiles.h): where they
// run the VNNI kernel; the AMX kernel reads A's rows in place.
bool vnni_gemm_reads_row_tiles();

struct VnniPackedB {
  int64_t K = 0, N = 0, k4 = 0, panels = 0;
  std::shared_ptr<int8_t> data;  // panels * k4 * 128 bytes, 64-byte aligned, in 2 MiB pages (weight_pages.h)
  const int8_t* panel(int64_t p) const { return data.get() + p * k4 * 128; }
};

// Packs B (K x N row-major s8).
VnniPackedB vnni_pack_b(const int8_t* b, int64_t K, int64_t N);

// What each result becomes. With s = sum_k a[m][k] * b[k][n] (raw u8 x s8):
//   v = s + za_m * colterm[n] - zb[n] * rowsum_m       (zb null: that term is 0)
// then out_f32[m][n] = float(v) * scale[n] (+ bias[n]) (then GELU) when scale is set, else
// out_i32[m][n] = v.
// colterm[n] = K * zb[n] - colsum_n is what the caller has for its other paths too.
struct VnniEpilogue {
  const int32_t* za = nullptr;  // za_count values: 0 (none), 1, or one per row
  int64_t za_count = 0;
  const int32_t* colterm = nullptr;  // N values
  const int32_t* zb = nullptr;       // N values or null (all zero)
  const float* scale = nullptr;      // N values, or null for int32 output
  const float* bias = nullptr;       // N values or null
  bool gelu = false;                 // float output only: GELU (erf form) after the bias
  const float* residual = nullptr;   // float output only: M x N values added last (not with gelu)
  float* out_f32 = nullptr;
  int32_t* out_i32 = nullptr;
  // Float output only: [min, max] of everything written is merged in here (each tile's rows read
  // back while in L1), for kiln:DynamicQuantizeLinear.
  ValueRange* range = nullptr;
};

// y = epilogue(a x b) for a (M x K u8, row stride lda >= K; or, tiled, in row tiles (row_tiles.h),
// K a multiple of 4, lda unused). Runs on the thread pool. With `amx` (only where
// amx_gemm_supported()) and row-major A, on the AMX tile unit.
void vnni_gemm(int64_t M, const uint8_t* a, int64_t lda, const VnniPackedB& b, const VnniEpilogue& e,
               bool tiled = false, bool amx = false);

}  // namespace kiln::cpu
