// Loops shared by the elementwise math kernels (binary/unary/compare/activation/variadic):
// numpy broadcasting split into contiguous rows, and parallel maps that the compiler vectorises.
// float16/bfloat16 values are computed in float (ComputeT).
#pragma once
#include <array>
#include <initializer_list>
#include <span>
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/vec_math.h"

namespace kiln::cpu {

// The type arithmetic happens in: float for the 16-bit floats, the type itself otherwise.
template <typename T>
using ComputeT = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;

template <typename T>
constexpr bool is_float_v = std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Converts a compute value to a storage type (Half/BFloat16 have explicit float constructors).
template <typename To, typename From>
inline To to_storage(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From{};
  else return static_cast<To>(v);
}

// N inputs broadcast to `out`, seen as rows of `inner` elements. Within a row each input is either
// contiguous (step 1) or one repeated element (step 0); rows start at offsets given by the outer dims.
struct BroadcastLayout {
  Shape out;
  int64_t numel = 0;
  int64_t inner = 1;
  Shape steps;                         // per input: 1 or 0
  Shape outer;                         // out dims before the inner block
  std::array<Shape, 8> outer_strides;  // per input (at most 8), per outer dim

  // (Shapes and fixed arrays: making a layout takes nothing from the heap.)
  BroadcastLayout(std::span<const Shape> ins, const Shape& out_shape);
  BroadcastLayout(std::initializer_list<Shape> ins, const Shape& out_shape)
      : BroadcastLayout(std::span<const Shape>(ins.begin(), ins.size()), out_shape) {}
  // Offsets (in elements) of the start of row r for every input.
  void row_offsets(int64_t r, int64_t* offs) const;
};

// Calls row(begin, n, offs) for every run of n output elements starting at output index `begin`
// whose inputs start at offs[i] (then advance by steps[i]); runs chunks in parallel.
template <typename RowFn>
void for_each_row(const BroadcastLayout& L, long cost_per_item, RowFn&& row) {
  const size_t k = L.steps.size();
  parallel_for(L.numel, cost_per_item, [&](long begin, long end) {
    int64_t offs[8];
    int64_t r = begin / L.inner, off = begin % L.inner;
    while (begin < end) {
      int64_t n = std::min<int64_t>(L.inner - off, end - begin);
      L.row_offsets(r, offs);
      for (size_t i = 0; i < k; ++i) offs[i] += off * L.steps[i];
      row((int64_t)begin, n, offs);
      begin += n;
      off = 0;
      ++r;
    }
  });
}

// One row of a binary map: o[i] = f(a[i*sa], b[i*sb]) with the step cases split out so each
// loop is a plain contiguous loop.
template <typename C, typename TA, typename TB, typename TO, typename F>
inline void binary_row(const TA* a, int64_t sa, const TB* b, int64_t sb, TO* o, int64_t n, const F& f) {
  if (sa && sb) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = to_storage<TO>(f((C)a[i], (C)b[i]));
  } else if (sa) {
    const C bv = (C)b[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = to_storage<TO>(f((C)a[i], bv));
  } else if (sb) {
    const C av = (C)a[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = to_storage<TO>(f(av, (C)b[i]));
  } else {
    const TO v = to_storage<TO>(f((C)a[0], (C)b[0]));
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  }
}

// out = f(a, b) under numpy broadcasting; C is the compute type the values are converted to.
template <typename C, typename TA, typename TB, typename TO, typename F>
void binary_map(const TA* a, const Shape& as, const TB* b, const Shape& bs, TO* o, const Shape& os, const F& f,
                long cost = 1) {
  if (as == os && bs == os) {
    parallel_for(shape_numel(os), cost, [&](long begin, long end) {
      binary_row<C>(a + begin, 1, b + begin, 1, o + begin, end - begin, f);
    });
    return;
  }
  BroadcastLayout L({as, bs}, os);
  for_each_row(L, cost, [&](int64_t begin, int64_t n, const int64_t* offs) {
    binary_row<C>(a + offs[0], L.steps[0], b + offs[1], L.steps[1], o + begin, n, f);
  });
}

// y[i] = f(x[i]) over n elements, in parallel chunks.
template <typename TX, typename TY, typename F>
void unary_map(const TX* x, TY* y, int64_t n, const F& f, long cost = 1) {
  parallel_for(n, cost, [&](long begin, long end) {
#pragma omp simd
    for (long i = begin; i < end; ++i) y[i] = f(x[i]);
  });
}

// Y = f(X) for a float input: float32/float64 directly, float16/bfloat16 through float32.
// f is a generic callable taking and returning float or double.
template <typename F>
void float_unary(KernelContext& ctx, const F& f, long cost = 1) {
  const Tensor& x = ctx.input(0);
  switch (x.dtype()) {
    case DType::F32: {
      Tensor& y = ctx.allocate_output(0, DType::F32, x.shape());
      unary_map(x.data<float>(), y.data<float>(), x.numel(), [&](float v) { return (float)f(v); }, cost);
      return;
    }
    case DType::F64: {
      Tensor& y = ctx.allocate_output(0, DType::F64, x.shape());
      unary_map(x.data<double>(), y.data<double>(), x.numel(), [&](double v) { return (double)f(v); }, cost);
      return;
    }
    case DType::F16:
    case DType::BF16: {
      Tensor xf = x.cast(DType::F32);
      Tensor yf(DType::F32, x.shape());
      unary_map(xf.data<float>(), yf.data<float>(), x.numel(), [&](float v) { return (float)f(v); }, cost);
      ctx.set_output(0, yf.cast(x.dtype()));
      return;
    }
    default:
      throw BadInput(fmt::format("{}: input must be a float tensor, not {}", ctx.node().label(),
                                 dtype_name(x.dtype())));
  }
}

// Y = fn(X) for float inputs where fn is a vectorised float32 array function (vec_math.h):
// float32 runs it directly in parallel chunks, float16/bfloat16 through float32, float64 uses
// the scalar formula f.
using VecFn = void (*)(const float*, float*, int64_t, Isa);
template <typename F>
void float_unary_vec(KernelContext& ctx, VecFn fn, const F& f, long cost = 8) {
  const Tensor& x = ctx.input(0);
  auto run = [&](const float* px, float* py) {
    Isa isa = active_isa();
    parallel_for(x.numel(), cost, [&](long b, long e) { fn(px + b, py + b, e - b, isa); });
  };
  switch (x.dtype()) {
    case DType::F32:
      run(x.data<float>(), ctx.allocate_output(0, DType::F32, x.shape()).data<float>());
      return;
    case DType::F16:
    case DType::BF16: {
      Tensor xf = x.cast(DType::F32);
      Tensor yf(DType::F32, x.shape());
      run(xf.data<float>(), yf.data<float>());
      ctx.set_output(0, yf.cast(x.dtype()));
      return;
    }
    default:
      float_unary(ctx, f, cost);
  }
}

// Y = f(X) for any numeric input (not bool); f takes and returns the compute type (float for
// the 16-bit floats).
template <typename F>
void numeric_unary(KernelContext& ctx, const F& f, long cost = 1) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.dtype() != DType::Bool, BadInput, "{}: bool input is not supported", ctx.node().label());
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      using C = ComputeT<T>;
      unary_map(x.data<T>(), y.data<T>(), x.numel(), [&](T v) { return to_storage<T>(f((C)v)); }, cost);
    }
  });
}

}  // namespace kiln::cpu
