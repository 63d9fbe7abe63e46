// Floating-point exceptions are never inspected in kiln, so the selects below (clamps, branch
// blends) may be computed on both sides; without this GCC keeps them as branches and does not
// vectorise. Results are unchanged.
#pragma GCC optimize("no-trapping-math")
// GCC 12's AVX-512 intrinsics pass an undefined register as the unused merge source and then warn
// about it inside immintrin.h (GCC bug 105593, fixed in GCC 13): silence that one warning here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "runtime/kernels/cpu/vec_math.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "runtime/kernels/cpu/gelu_avx512.h"

namespace kiln::cpu::vec {
namespace {

// ---- scalar formulas, inlined into each ISA's loops ----------------------------------------

inline float bits_to_float(int32_t i) { return __builtin_bit_cast(float, i); }

// exp(x) = 2^k * exp(r), r = x - k ln2 in [-ln2/2, ln2/2], exp(r) by a degree-6 polynomial.
inline float exp_f(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float k = (xc * 1.44269504088896341f + magic) - magic;
  float r = xc - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t ki = (int32_t)k;
  float y = p * bits_to_float((ki + 127) << 23);
  y = x > hi ? std::numeric_limits<float>::infinity() : y;
  y = x < lo ? 0.0f : y;
  return y;  // NaN propagates through the arithmetic
}

// tanh by a rational function of x^2 on [-7.9, 7.9] (beyond that tanh is +-1 in float).
inline float tanh_f(float x) {
  const float clamp = 7.90531110763549805f;
  float xc = x > clamp ? clamp : (x < -clamp ? -clamp : x);
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float y = p / q;
  return y;  // NaN propagates through the arithmetic
}

// erf: odd Taylor series near 0, Abramowitz-Stegun 7.1.26 elsewhere (absolute error < 3e-7).
inline float erf_f(float x) {
  float ax = x < 0 ? -x : x;
  float x2 = x * x;
  // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
  float s = -1.0f / 1320.0f;
  s = s * x2 + 1.0f / 216.0f;
  s = s * x2 - 1.0f / 42.0f;
  s = s * x2 + 1.0f / 10.0f;
  s = s * x2 - 1.0f / 3.0f;
  s = s * x2 + 1.0f;
  float small = 1.1283791670955126f * x * s;
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  float big = 1.0f - p * t * exp_f(-x2);
  big = x < 0 ? -big : big;
  float y = ax < 0.5f ? small : big;
  return y;  // NaN propagates through the arithmetic
}

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }
inline float gelu_erf_f(float x) { return 0.5f * x * (1.0f + erf_f(x * 0.70710678118654752f)); }
inline float gelu_tanh_f(float x) {
  return 0.5f * x * (1.0f + tanh_f(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

// ---- one loop per function per ISA --------------------------------------------------------

#define KILN_MAP_LOOP(fn)                                              \
  for (int64_t i = 0; i < n; ++i) y[i] = fn(x[i]);

// The max and the sum go through max_of / sum_of, which each ISA defines: GCC's own horizontal
// reductions store the vector and add it up lane by lane, which costs as much as the exps on a
// 128-value attention row.
#define KILN_SOFTMAX_BODY                                                       \
  float m = max_of<I>(x, n);                                                    \
  if (m == -std::numeric_limits<float>::infinity()) m = 0;                     \
  _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = exp_f(x[i] - m);  \
  const float inv = 1.0f / sum_of<I>(y, n);                                     \
  _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] *= inv;

#define KILN_GENERIC_REDUCTIONS(level)                                          \
  template <>                                                                   \
  KILN_TARGET(level) float max_of<Isa::level>(const float* x, int64_t n) {      \
    float m = -std::numeric_limits<float>::infinity();                         \
    _Pragma("omp simd reduction(max : m)") for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m; \
    return m;                                                                   \
  }                                                                             \
  template <>                                                                   \
  KILN_TARGET(level) float sum_of<Isa::level>(const float* x, int64_t n) {      \
    float s = 0;                                                                \
    _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < n; ++i) s += x[i]; \
    return s;                                                                   \
  }

#define KILN_LAYER_NORM_BODY                                                     \
  float s = 0;                                                                  \
  _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < n; ++i) s += x[i]; \
  const float m = s / (float)n;                                                 \
  float v = 0;                                                                  \
  _Pragma("omp simd reduction(+ : v)") for (int64_t i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m); \
  /* Divide by the deviation (not multiply by its inverse), as the decomposed graph and ONNX   \
     Runtime do: int8 models amplify the last-bit difference. */                                  \
  const float sd = std::sqrt(v / (float)n + eps);                               \
  const float inv = 1.0f / sd;                                                  \
  /* With FMA the quotient is (x - m) * inv corrected once by the exact remainder, which is the       \
     correctly rounded quotient, the division's value (Markstein), without a division per 16 values; \
     for a finite, positive sd |x - m| / sd stays below sqrt(n), so nothing overflows. */            \
  if (kFmaDivide<I> && sd > 0 && sd < std::numeric_limits<float>::infinity()) {                           \
    if (bias) {                                                                 \
      _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                     \
        const float d = x[i] - m, q0 = d * inv;                                 \
        y[i] = std::fma(std::fma(-q0, sd, d), inv, q0) * scale[i] + bias[i];    \
      }                                                                         \
    } else {                                                                    \
      _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                     \
        const float d = x[i] - m, q0 = d * inv;                                 \
        y[i] = std::fma(std::fma(-q0, sd, d), inv, q0) * scale[i];              \
      }                                                                         \
    }                                                                           \
  } else if (bias) {                                                            \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) / sd * scale[i] + bias[i]; \
  } else {                                                                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) / sd * scale[i]; \
  }                                                                             \
  *mean_out = m;                                                                \
  *inv_out = inv;

// RMS norm (T5's LayerNorm): the squares' sum in double (its rounding then no longer depends on how
// the compiler vectorises the loop, nor on the ISA: a float sum in order was 4 ulps off at -O2), the
// root rounded once to float, then the quotient by it corrected as in KILN_LAYER_NORM_BODY (a
// division's value), times the scale: within 2 ulps of float64.
#define KILN_RMS_NORM_BODY                                                       \
  double ss = 0;                                                                \
  _Pragma("omp simd reduction(+ : ss)") for (int64_t i = 0; i < n; ++i) ss += (double)x[i] * x[i]; \
  const float sd = (float)std::sqrt(ss / (double)n + (double)eps);              \
  const float inv = 1.0f / sd;                                                  \
  if (kFmaDivide<I> && sd > 0 && sd < std::numeric_limits<float>::infinity()) { \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                       \
      const float q0 = x[i] * inv;                                              \
      y[i] = std::fma(std::fma(-q0, sd, x[i]), inv, q0) * scale[i];            \
    }                                                                           \
  } else {                                                                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = x[i] / sd * scale[i]; \
  }                                                                             \
  return inv;

#define KILN_ARITH_CASES(OP)                                                         \
  if (sa && sb) {                                                                   \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = a[i] OP b[i];        \
  } else if (sa) {                                                                  \
    const float bv = b[0];                                                          \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = a[i] OP bv;          \
  } else if (sb) {                                                                  \
    const float av = a[0];                                                          \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = av OP b[i];          \
  } else {                                                                          \
    const float v = a[0] OP b[0];                                                   \
    for (int64_t i = 0; i < n; ++i) o[i] = v;                                       \
  }

// The variants of every function, one explicit specialisation per level (isa.h).
template <Isa I> float max_of(const float* x, int64_t n);
template <Isa I> float sum_of(const float* x, int64_t n);
template <Isa I> void arith_v(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n);
template <Isa I>
void layer_norm_v(const float* x, float* y, int64_t n, const float* scale, const float* bias, float eps,
                  float* mean_out, float* inv_out);
template <Isa I> float rms_norm_v(const float* x, float* y, int64_t n, const float* scale, float eps);
template <Isa I> void exp_v(const float* x, float* y, int64_t n);
template <Isa I> void tanh_v(const float* x, float* y, int64_t n);
template <Isa I> void erf_v(const float* x, float* y, int64_t n);
template <Isa I> void sigmoid_v(const float* x, float* y, int64_t n);
template <Isa I> void gelu_erf_v(const float* x, float* y, int64_t n);
template <Isa I> void bias_gelu_erf_v(const float* x, const float* b, float* y, int64_t n);
template <Isa I> void gelu_tanh_v(const float* x, float* y, int64_t n);
template <Isa I> void softmax_v(const float* x, float* y, int64_t n);
template <Isa I> void softmax_loops_v(const float* x, float* y, int64_t n);
template <Isa I> void softmax_rows_v(float* x, int64_t rows, int64_t n, int64_t ld);

// With FMA the layer-norm quotient is corrected by the exact remainder; without it std::fma would be
// a library call.
template <Isa I> constexpr bool kFmaDivide = I != Isa::Scalar;

#define KILN_DEFINE_MAP(level, fn)                                                      \
  template <>                                                                           \
  KILN_TARGET(level) void fn##_v<Isa::level>(const float* x, float* y, int64_t n) {     \
    _Pragma("omp simd") KILN_MAP_LOOP(fn##_f)                                           \
  }

#define KILN_DEFINE_ISA(level)                                                                          \
  template <>                                                                                           \
  KILN_TARGET(level) void arith_v<Isa::level>(int op, const float* a, int64_t sa, const float* b, int64_t sb, \
                                              float* o, int64_t n) {                                    \
    switch (op) {                                                                                       \
      case 0: { KILN_ARITH_CASES(+) } break;                                                            \
      case 1: { KILN_ARITH_CASES(-) } break;                                                            \
      case 2: { KILN_ARITH_CASES(*) } break;                                                            \
      default: { KILN_ARITH_CASES(/) } break;                                                           \
    }                                                                                                   \
  }                                                                                                     \
  template <>                                                                                           \
  KILN_TARGET(level) void layer_norm_v<Isa::level>(const float* x, float* y, int64_t n, const float* scale, \
                                                   const float* bias, float eps, float* mean_out,       \
                                                   float* inv_out) {                                    \
    constexpr Isa I = Isa::level;                                                                       \
    KILN_LAYER_NORM_BODY                                                                                \
  }                                                                                                     \
  template <>                                                                                           \
  KILN_TARGET(level) float rms_norm_v<Isa::level>(const float* x, float* y, int64_t n, const float* scale,  \
                                                  float eps) {                                          \
    constexpr Isa I = Isa::level;                                                                       \
    KILN_RMS_NORM_BODY                                                                                  \
  }                                                                                                     \
  KILN_DEFINE_MAP(level, exp)                                                                           \
  KILN_DEFINE_MAP(level, tanh)                                                                          \
  KILN_DEFINE_MAP(level, erf)                                                                           \
  KILN_DEFINE_MAP(level, sigmoid)                                                                       \
  KILN_DEFINE_MAP(level, gelu_tanh)                                                                     \
  template <>                                                                                           \
  KILN_TARGET(level) void softmax_loops_v<Isa::level>(const float* x, float* y, int64_t n) {            \
    constexpr Isa I = Isa::level;                                                                       \
    KILN_SOFTMAX_BODY                                                                                   \
  }

KILN_GENERIC_REDUCTIONS(Scalar)
KILN_GENERIC_REDUCTIONS(Avx2)

// AVX-512: horizontal reductions by lane swaps.
#define KILN_REDUCE_512(v, op)                                          \
  v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));       \
  v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));       \
  v = op(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));             \
  v = op(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
template <>
KILN_TARGET(Avx512) float max_of<Isa::Avx512>(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  if (i < n) {
    const __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
    m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, x + i));
  }
  KILN_REDUCE_512(m, _mm512_max_ps)
  return _mm512_cvtss_f32(m);
}
template <>
KILN_TARGET(Avx512) float sum_of<Isa::Avx512>(const float* x, int64_t n) {
  __m512 s = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + i));
  if (i < n) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i));  // zeros past n
  KILN_REDUCE_512(s, _mm512_add_ps)
  return _mm512_cvtss_f32(s);
}

KILN_DEFINE_ISA(Scalar)
KILN_DEFINE_ISA(Avx2)
KILN_DEFINE_ISA(Avx512)

// GELU (erf form): by its formula on the portable and AVX2 paths, by the table of gelu_avx512.h on
// AVX-512 (about a third of the formula's time there).
#define KILN_DEFINE_GELU_FORMULA(level)                                                                 \
  KILN_DEFINE_MAP(level, gelu_erf)                                                                      \
  template <>                                                                                           \
  KILN_TARGET(level) void bias_gelu_erf_v<Isa::level>(const float* x, const float* b, float* y, int64_t n) { \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = gelu_erf_f(x[i] + b[i]);                \
  }
KILN_DEFINE_GELU_FORMULA(Scalar)
KILN_DEFINE_GELU_FORMULA(Avx2)

template <>
KILN_TARGET(Avx512) void gelu_erf_v<Isa::Avx512>(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu_erf16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, gelu_erf16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

template <>
KILN_TARGET(Avx512) void bias_gelu_erf_v<Isa::Avx512>(const float* x, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, gelu_erf16(_mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(b + i))));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, b + i));
    _mm512_mask_storeu_ps(y + i, m, gelu_erf16(v));
  }
}

template <>
void softmax_v<Isa::Scalar>(const float* x, float* y, int64_t n) {
  softmax_loops_v<Isa::Scalar>(x, y, n);
}
template <>
KILN_TARGET(Avx2) void softmax_v<Isa::Avx2>(const float* x, float* y, int64_t n) {
  softmax_loops_v<Isa::Avx2>(x, y, n);
}
template <>
void softmax_rows_v<Isa::Scalar>(float* x, int64_t rows, int64_t n, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) softmax_v<Isa::Scalar>(x + r * ld, x + r * ld, n);
}
template <>
KILN_TARGET(Avx2) void softmax_rows_v<Isa::Avx2>(float* x, int64_t rows, int64_t n, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) softmax_v<Isa::Avx2>(x + r * ld, x + r * ld, n);
}

// exp_f on 16 lanes with the operations, and the roundings, of the compiler's vectorised loop over
// exp_f above (its multiply-adds contracted to FMAs where the loop has them); out of [lo, hi] the
// result is 0 or +inf as there, and NaN propagates.
KILN_TARGET(Avx512) inline __m512 exp16(__m512 x) {
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic), magic);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_fmadd_ps(r, _mm512_set1_ps(1.9875691500e-4f), _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 q = _mm512_add_ps(_mm512_fmadd_ps(r, _mm512_mul_ps(p, r), r), _mm512_set1_ps(1.0f));
  // q 2^k by vscalefps (k is a whole number): the product the loop forms with 2^k built in the
  // exponent bits, in one instruction instead of four (where k is outside the exponent's range the
  // loop's value is replaced below).
  __m512 y = _mm512_scalef_ps(q, k);
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(88.3762626647949f), _CMP_GT_OQ), y,
                           _mm512_set1_ps(std::numeric_limits<float>::infinity()));
  return _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447504f), _CMP_LT_OQ), y);
}

// R rows of NV vectors each (the last one `tail` lanes) in registers: one read and one write of each
// row instead of four passes and the loops' scalar tails. The max, the sum and the scaling in the
// order max_of, sum_of and the loops take them, so the result is bitwise the loops' (test). A row
// alone is one dependent chain (max, its reduction, the exps, their sum, its reduction, a division)
// that leaves the core idle between its steps; with R = 2 the two rows' chains fill those gaps, each
// row still with its own operations in its own order.
template <int R, int NV>
KILN_TARGET(Avx512) void softmax_regs(const float* const* x, float* const* y, __mmask16 tail) {
  __m512 v[R][NV], m[R], s[R], mv[R];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) {
    m[r] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i) {
      if (i == NV - 1 && tail != (__mmask16)0xFFFF) {
        v[r][i] = _mm512_maskz_loadu_ps(tail, x[r] + 16 * i);
        m[r] = _mm512_mask_max_ps(m[r], tail, m[r], v[r][i]);
      } else {
        v[r][i] = _mm512_loadu_ps(x[r] + 16 * i);
        m[r] = _mm512_max_ps(m[r], v[r][i]);
      }
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) {
    KILN_REDUCE_512(m[r], _mm512_max_ps)
    float mx = _mm512_cvtss_f32(m[r]);
    if (mx == -std::numeric_limits<float>::infinity()) mx = 0;
    mv[r] = _mm512_set1_ps(mx);
    s[r] = _mm512_setzero_ps();
  }
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i)
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      v[r][i] = exp16(_mm512_sub_ps(v[r][i], mv[r]));
      if (i == NV - 1) v[r][i] = _mm512_maskz_mov_ps(tail, v[r][i]);  // zeros past n, as sum_of reads them
      s[r] = _mm512_add_ps(s[r], v[r][i]);
    }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) {
    KILN_REDUCE_512(s[r], _mm512_add_ps)
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_cvtss_f32(s[r]));
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i) {
      if (i == NV - 1) _mm512_mask_storeu_ps(y[r] + 16 * i, tail, _mm512_mul_ps(v[r][i], inv));
      else _mm512_storeu_ps(y[r] + 16 * i, _mm512_mul_ps(v[r][i], inv));
    }
  }
}

using SoftmaxRows = void (*)(const float* const*, float* const*, __mmask16);
template <int R, int... N>
constexpr std::array<SoftmaxRows, sizeof...(N)> softmax_kernels(std::integer_sequence<int, N...>) {
  return {&softmax_regs<R, N + 1>...};
}

// Attention rows (128 keys at 128 tokens) spent about 290 cycles each in the loops; in registers
// about a third of that.
template <>
KILN_TARGET(Avx512) void softmax_v<Isa::Avx512>(const float* x, float* y, int64_t n) {
  static constexpr auto kRows = softmax_kernels<1>(std::make_integer_sequence<int, 16>{});
  if (n <= 0 || n > 256) return softmax_loops_v<Isa::Avx512>(x, y, n);
  const int64_t nv = (n + 15) / 16, last = n - 16 * (nv - 1);
  kRows[nv - 1](&x, &y, last == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << last) - 1));
}

// Rows of up to 128 values two at a time (2 x 8 vectors stay in registers); longer rows one by one.
template <>
KILN_TARGET(Avx512) void softmax_rows_v<Isa::Avx512>(float* x, int64_t rows, int64_t n, int64_t ld) {
  static constexpr auto kPairs = softmax_kernels<2>(std::make_integer_sequence<int, 8>{});
  int64_t r = 0;
  if (n > 0 && n <= 128) {
    const int64_t nv = (n + 15) / 16, last = n - 16 * (nv - 1);
    const __mmask16 tail = last == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << last) - 1);
    for (; r + 2 <= rows; r += 2) {
      float* const rows2[2] = {x + r * ld, x + (r + 1) * ld};
      kPairs[nv - 1](rows2, rows2, tail);
    }
  }
  for (; r < rows; ++r) softmax_v<Isa::Avx512>(x + r * ld, x + r * ld, n);
}

template <Isa I>
void layer_norm_rows_v(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                       float eps, float* mean, float* inv) {
  for (int64_t r = 0; r < rows; ++r) {
    float m, v;
    layer_norm_v<I>(x + r * n, y + r * n, n, scale, bias, eps, &m, &v);
    if (mean) mean[r] = m;
    if (inv) inv[r] = v;
  }
}

// kR rows of n (a multiple of 16) values, side by side, in an order spelled out here rather than left
// to the compiler's vectoriser (which differs between -O2 and -O3): per row, one 16-lane accumulator
// over the row in order, its lanes then added one by one from 0; the squares' sum with FMAs; the
// quotient corrected by its remainder; y = q * scale + bias as one FMA. Each row's sums are its own
// chain, so four rows at a time give the bits of one at a time and hide the adds' latency. Rows whose
// deviation is 0 or not finite are redone by the loops of KILN_LAYER_NORM_BODY.
template <int kR>
KILN_TARGET(Avx512) void layer_norm_group_avx512(const float* x, float* y, int64_t n, const float* scale,
                                                 const float* bias, float eps, float* mean, float* inv) {
  const float fn = (float)n;
  alignas(64) float lanes[kR][16];
  __m512 acc[kR];
#pragma GCC unroll 4
  for (int j = 0; j < kR; ++j) acc[j] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16)
#pragma GCC unroll 4
    for (int j = 0; j < kR; ++j) acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(x + j * n + i));
  float m[kR];
#pragma GCC unroll 4
  for (int j = 0; j < kR; ++j) _mm512_store_ps(lanes[j], acc[j]);
  for (int j = 0; j < kR; ++j) {
    float s = 0;
    for (int l = 0; l < 16; ++l) s += lanes[j][l];
    m[j] = s / fn;
  }
  __m512 mv[kR];
#pragma GCC unroll 4
  for (int j = 0; j < kR; ++j) {
    acc[j] = _mm512_setzero_ps();
    mv[j] = _mm512_set1_ps(m[j]);
  }
  for (int64_t i = 0; i < n; i += 16)
#pragma GCC unroll 4
    for (int j = 0; j < kR; ++j) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j * n + i), mv[j]);
      acc[j] = _mm512_fmadd_ps(d, d, acc[j]);
    }
#pragma GCC unroll 4
  for (int j = 0; j < kR; ++j) _mm512_store_ps(lanes[j], acc[j]);
  for (int j = 0; j < kR; ++j) {
    float v = 0;
    for (int l = 0; l < 16; ++l) v += lanes[j][l];
    const float sd = std::sqrt(v / fn + eps), iv = 1.0f / sd;
    const float* xr = x + j * n;
    float* yr = y + j * n;
    if (mean) mean[j] = m[j];
    if (inv) inv[j] = iv;
    if (!(sd > 0 && sd < std::numeric_limits<float>::infinity())) {
      float mm, vv;
      layer_norm_v<Isa::Avx512>(xr, yr, n, scale, bias, eps, &mm, &vv);
      continue;
    }
    const __m512 vsd = _mm512_set1_ps(sd), vinv = _mm512_set1_ps(iv);
    for (int64_t i = 0; i < n; i += 16) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(xr + i), mv[j]);
      const __m512 q0 = _mm512_mul_ps(d, vinv);
      const __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, vsd, d), vinv, q0);
      const __m512 sc = _mm512_loadu_ps(scale + i);
      _mm512_storeu_ps(yr + i, bias ? _mm512_fmadd_ps(q, sc, _mm512_loadu_ps(bias + i)) : _mm512_mul_ps(q, sc));
    }
  }
}

template <>
KILN_TARGET(Avx512) void layer_norm_rows_v<Isa::Avx512>(const float* x, float* y, int64_t rows, int64_t n,
                                                       const float* scale, const float* bias, float eps, float* mean,
                                                       float* inv) {
  if (n % 16 != 0 || n == 0) {
    for (int64_t r = 0; r < rows; ++r) {
      float m, v;
      layer_norm_v<Isa::Avx512>(x + r * n, y + r * n, n, scale, bias, eps, &m, &v);
      if (mean) mean[r] = m;
      if (inv) inv[r] = v;
    }
    return;
  }
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    layer_norm_group_avx512<4>(x + r * n, y + r * n, n, scale, bias, eps, mean ? mean + r : nullptr,
                               inv ? inv + r : nullptr);
  for (; r < rows; ++r)
    layer_norm_group_avx512<1>(x + r * n, y + r * n, n, scale, bias, eps, mean ? mean + r : nullptr,
                               inv ? inv + r : nullptr);
}

}  // namespace

void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                     float eps, float* mean, float* inv_std, Isa isa) {
  KILN_ISA_DISPATCH(isa, layer_norm_rows_v<ISA>(x, y, rows, n, scale, bias, eps, mean, inv_std));
}

float rms_norm(const float* x, float* y, int64_t n, const float* scale, float eps, Isa isa) {
  float inv = 0;
  KILN_ISA_DISPATCH(isa, inv = rms_norm_v<ISA>(x, y, n, scale, eps));
  return inv;
}

void exp(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, exp_v<ISA>(x, y, n)); }
void tanh(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, tanh_v<ISA>(x, y, n)); }
void erf(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, erf_v<ISA>(x, y, n)); }
void sigmoid(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, sigmoid_v<ISA>(x, y, n)); }
void gelu_erf(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, gelu_erf_v<ISA>(x, y, n)); }
void gelu_tanh(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, gelu_tanh_v<ISA>(x, y, n)); }
void softmax(const float* x, float* y, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, softmax_v<ISA>(x, y, n)); }
void softmax_rows(float* x, int64_t rows, int64_t n, int64_t ld, Isa isa) {
  KILN_ISA_DISPATCH(isa, softmax_rows_v<ISA>(x, rows, n, ld));
}

void bias_gelu_erf(const float* x, const float* b, float* y, int64_t n, Isa isa) {
  KILN_ISA_DISPATCH(isa, bias_gelu_erf_v<ISA>(x, b, y, n));
}

void arith(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n, Isa isa) {
  KILN_ISA_DISPATCH(isa, arith_v<ISA>(op, a, sa, b, sb, o, n));
}

void layer_norm(const float* x, float* y, int64_t n, const float* scale, const float* bias, float eps, float* mean,
                float* inv_std, Isa isa) {
  // One row of layer_norm_rows: the same order of sums, so a row alone and a row among others agree.
  KILN_ISA_DISPATCH(isa, layer_norm_rows_v<ISA>(x, y, 1, n, scale, bias, eps, mean, inv_std));
}

}  // namespace kiln::cpu::vec
