// Vectorised float32 math over arrays: exp, tanh, erf, sigmoid, GELU and a softmax row.
// Polynomial/rational approximations written as plain loops that the compiler vectorises, built
// once per instruction set (baseline SSE2, AVX2+FMA, AVX-512) and picked at run time by
// active_isa(). Accuracy: exp and sigmoid within ~2 ulp, tanh within ~3e-7, erf within ~3e-7
// absolute. Outputs may alias inputs.
#pragma once
#include <cstdint>

#include "runtime/kernels/cpu/isa.h"

namespace kiln::cpu::vec {

void exp(const float* x, float* y, int64_t n, Isa isa = active_isa());
void tanh(const float* x, float* y, int64_t n, Isa isa = active_isa());
void erf(const float* x, float* y, int64_t n, Isa isa = active_isa());
void sigmoid(const float* x, float* y, int64_t n, Isa isa = active_isa());
// x * 0.5 * (1 + erf(x / sqrt 2))
void gelu_erf(const float* x, float* y, int64_t n, Isa isa = active_isa());
// gelu_erf(x[i] + bias[i]): BiasGelu's row in one pass
void bias_gelu_erf(const float* x, const float* bias, float* y, int64_t n, Isa isa = active_isa());
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_tanh(const float* x, float* y, int64_t n, Isa isa = active_isa());
// y = softmax(x) over n contiguous values (the max is subtracted first).
void softmax(const float* x, float* y, int64_t n, Isa isa = active_isa());
// softmax of `rows` rows of n values in place (row r at x + r * ld), bitwise as softmax row by row.
void softmax_rows(float* x, int64_t rows, int64_t n, int64_t ld, Isa isa = active_isa());

// o[i] = a[i * sa] (op) b[i * sb] for steps 0 or 1, op 0..3 = add, sub, mul, div.
void arith(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n,
           Isa isa = active_isa());

// One layer-norm row: y = (x - mean) / sqrt(var + eps) * scale (+ bias when not null); returns
// the mean and 1/sqrt(var + eps) through the last two pointers.
void layer_norm(const float* x, float* y, int64_t n, const float* scale, const float* bias, float eps, float* mean,
                float* inv_std, Isa isa = active_isa());

// One RMS-norm row (T5's LayerNorm, ONNX Runtime's SimplifiedLayerNormalization): y = x /
// sqrt(mean(x^2) + eps) * scale, the quotient rounded once as a division's; returns 1/sqrt(...).
float rms_norm(const float* x, float* y, int64_t n, const float* scale, float eps, Isa isa = active_isa());

// layer_norm over `rows` consecutive rows of n values (y likewise); mean and inv_std, when not null,
// get one value per row. Bitwise the rows one by one (layer_norm is this with one row); on AVX-512, for
// n a multiple of 16, four rows at a time with the order of the sums written out in intrinsics, so the
// bits do not depend on how the compiler vectorises (each row's sums are one chain of adds, so a row
// alone waits on the adds' latency).
void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                     float eps, float* mean, float* inv_std, Isa isa = active_isa());

}  // namespace kiln::cpu::vec
