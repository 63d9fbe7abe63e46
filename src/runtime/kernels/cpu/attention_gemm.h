// The small products inside one attention block: C[m, n] = alpha * A[m, k] B[k, n], all row-major
// with leading dimensions, one thread. AVX-512 and AVX2: kiln's register-blocked kernels (6 rows x
// 64 columns of sums in 24 zmm registers, or 6 x 16 in 12 ymm; each sum an FMA chain in k order over
// blocks of 256 k, added into C block by block, as ONNX Runtime's MLAS sums); otherwise oneDNN's sgemm. Returns false when oneDNN fails (the
// caller runs inside a parallel region).
#pragma once
#include <cstdint>

#include "runtime/kernels/cpu/isa.h"

namespace kiln::cpu {

bool attention_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float* c, int64_t ldc, Isa isa = active_isa());

// dst[c * rows + r] = src[r * ld + c] for r < rows, c < cols: K^T of one head ([D, T]) from its rows,
// so the scores product reads contiguous rows. AVX-512: 16 rows at a time by gathers (the scalar loop
// cost a quarter as much as the two products together).
void attention_transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst, Isa isa = active_isa());

// A Where on one row of scores with a byte (bool / uint8) condition read contiguously: row[j] = fill
// where (c[j] != 0) == fill_when_true. The exporters' padding masks; a scalar loop over 128 scores
// cost about as much as the row's softmax.
void attention_where_bytes(const uint8_t* c, int64_t n, bool fill_when_true, float fill, float* row,
                           Isa isa = active_isa());

// [min, max] of rows x cols floats (rows ld apart) merged into *lo, *hi; NaNs are passed over. The
// block's output rows for kiln:DynamicQuantizeLinear's range, in one pass with one reduction (a call
// per 64-float row cost as much as the row's softmax).
void attention_min_max(const float* p, int64_t rows, int64_t cols, int64_t ld, float* lo, float* hi,
                       Isa isa = active_isa());

}  // namespace kiln::cpu
