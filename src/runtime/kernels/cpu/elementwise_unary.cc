// Elementwise math on one tensor: Abs, Neg, Sign (any numeric type); Floor, Ceil, Round, Sqrt,
// Exp, Log, Reciprocal, Erf and the trigonometric/hyperbolic functions (floats); IsNaN, IsInf.
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

template <typename C>
C abs_value(C v) {
  if constexpr (std::is_unsigned_v<C>) return v;
  else return v < C(0) ? (C)(C(0) - v) : v;
}

template <typename C>
C sign_value(C v) {
  if constexpr (std::is_floating_point_v<C>)
    if (std::isnan(v)) return v;
  if constexpr (std::is_unsigned_v<C>) return v > C(0) ? C(1) : C(0);
  else return v > C(0) ? C(1) : (v < C(0) ? C(-1) : C(0));
}

void is_nan(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate_output(0, DType::Bool, x.shape());
  bool* py = y.data<bool>();
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) {
      using C = ComputeT<T>;
      unary_map(x.data<T>(), py, x.numel(), [](T v) { return std::isnan((C)v); });
    } else {
      throw BadInput(fmt::format("{}: input must be a float tensor", ctx.node().label()));
    }
  });
}

class IsInfKernel : public OpKernel {
 public:
  explicit IsInfKernel(const KernelInfo& info)
      : neg_(info.node.attr_int("detect_negative", 1) != 0), pos_(info.node.attr_int("detect_positive", 1) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, DType::Bool, x.shape());
    bool* py = y.data<bool>();
    bool neg = neg_, pos = pos_;
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T>) {
        using C = ComputeT<T>;
        unary_map(x.data<T>(), py, x.numel(), [=](T t) {
          C v = (C)t;
          return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
        });
      } else {
        throw BadInput(fmt::format("{}: input must be a float tensor", ctx.node().label()));
      }
    });
  }

 private:
  bool neg_, pos_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_elementwise_unary_kernels) {
  r.add_fn("", "Abs", 1, kMaxOpset, [](KernelContext& ctx) { numeric_unary(ctx, [](auto v) { return abs_value(v); }); });
  r.add_fn("", "Neg", 1, kMaxOpset, [](KernelContext& ctx) {
    numeric_unary(ctx, [](auto v) { return (decltype(v))(decltype(v)(0) - v); });
  });
  r.add_fn("", "Sign", 9, kMaxOpset, [](KernelContext& ctx) { numeric_unary(ctx, [](auto v) { return sign_value(v); }); });

  auto fl = [&](const char* op, int64_t since, auto f, long cost) {
    r.add_fn("", op, since, kMaxOpset, [f, cost](KernelContext& ctx) { float_unary(ctx, f, cost); });
  };
  fl("Floor", 1, [](auto v) { return std::floor(v); }, 1);
  fl("Ceil", 1, [](auto v) { return std::ceil(v); }, 1);
  fl("Round", 11, [](auto v) { return std::nearbyint(v); }, 1);  // halves to even (default rounding mode)
  fl("Sqrt", 1, [](auto v) { return std::sqrt(v); }, 2);
  r.add_fn("", "Exp", 1, kMaxOpset,
           [](KernelContext& ctx) { float_unary_vec(ctx, vec::exp, [](auto v) { return std::exp(v); }); });
  fl("Log", 1, [](auto v) { return std::log(v); }, 8);
  fl("Reciprocal", 1, [](auto v) { return decltype(v)(1) / v; }, 2);
  r.add_fn("", "Erf", 9, kMaxOpset,
           [](KernelContext& ctx) { float_unary_vec(ctx, vec::erf, [](auto v) { return std::erf(v); }); });
  fl("Sin", 7, [](auto v) { return std::sin(v); }, 8);
  fl("Cos", 7, [](auto v) { return std::cos(v); }, 8);
  fl("Tan", 7, [](auto v) { return std::tan(v); }, 8);
  fl("Asin", 7, [](auto v) { return std::asin(v); }, 8);
  fl("Acos", 7, [](auto v) { return std::acos(v); }, 8);
  fl("Atan", 7, [](auto v) { return std::atan(v); }, 8);
  fl("Sinh", 9, [](auto v) { return std::sinh(v); }, 8);
  fl("Cosh", 9, [](auto v) { return std::cosh(v); }, 8);
  fl("Asinh", 9, [](auto v) { return std::asinh(v); }, 8);
  fl("Acosh", 9, [](auto v) { return std::acosh(v); }, 8);
  fl("Atanh", 9, [](auto v) { return std::atanh(v); }, 8);

  r.add_fn("", "IsNaN", 9, kMaxOpset, is_nan);
  r.add({DeviceType::Cpu, "", "IsInf", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<IsInfKernel>(info); });
}

}  // namespace kiln::cpu
