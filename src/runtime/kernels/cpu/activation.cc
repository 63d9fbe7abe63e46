// Activations: Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish, Tanh, Softplus,
// Softsign, Gelu (exact and tanh), Mish, ThresholdedRelu, Shrink, PRelu and Clip (attribute form
// before opset 11, optional min/max inputs after). Attributes are read once when the kernel is made.
#include <cmath>
#include <limits>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

template <typename C>
inline C sigmoid(C v) {
  return C(1) / (C(1) + std::exp(-v));
}

template <typename C>
inline C softplus(C v) {
  return v > C(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

std::unique_ptr<OpKernel> make_fn(FunctionKernel::Fn fn) { return std::make_unique<FunctionKernel>(std::move(fn)); }

void prelu(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& s = ctx.input(1);
  KILN_CHECK(x.dtype() == s.dtype(), BadInput, "{}: X is {} but slope is {}", node.label(), dtype_name(x.dtype()),
             dtype_name(s.dtype()));
  Shape os = broadcast_shapes({x.shape(), s.shape()}, node);
  KILN_CHECK(os == x.shape(), BadInput, "{}: slope {} does not broadcast to X {}", node.label(),
             shape_str(s.shape()), shape_str(x.shape()));
  Tensor& y = ctx.allocate_output(0, x.dtype(), os);
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool> && !std::is_unsigned_v<T>) {
      using C = ComputeT<T>;
      binary_map<C>(x.data<T>(), x.shape(), s.data<T>(), s.shape(), y.data<T>(), os,
                    [](C v, C a) { return v < C(0) ? (C)(a * v) : v; });
    } else {
      throw BadInput(fmt::format("{}: type {} is not supported", node.label(), dtype_name(x.dtype())));
    }
  });
}

// Clip: bounds from attributes (opset < 11) or optional scalar inputs 1 and 2.
class ClipKernel : public OpKernel {
 public:
  explicit ClipKernel(const KernelInfo& info) : from_inputs_(info.opset >= 11) {
    lo_ = info.node.attr_float("min", -std::numeric_limits<float>::infinity());
    hi_ = info.node.attr_float("max", std::numeric_limits<float>::infinity());
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor* tmin = from_inputs_ ? ctx.input_or_null(1) : nullptr;
    const Tensor* tmax = from_inputs_ ? ctx.input_or_null(2) : nullptr;
    for (const Tensor* t : {tmin, tmax})
      if (t) KILN_CHECK(t->numel() == 1, BadInput, "{}: min and max must be scalars, got shape {}",
                        ctx.node().label(), shape_str(t->shape()));
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: bool input is not supported", ctx.node().label()));
      } else {
        using C = ComputeT<T>;
        C lo, hi;
        if constexpr (std::is_floating_point_v<C>) {
          lo = (C)lo_;
          hi = (C)hi_;
        } else {
          lo = std::numeric_limits<C>::lowest();
          hi = std::numeric_limits<C>::max();
          if (!from_inputs_) {
            if (std::isfinite(lo_)) lo = (C)lo_;
            if (std::isfinite(hi_)) hi = (C)hi_;
          }
        }
        if (tmin) lo = (C)tmin->data<T>()[0];
        if (tmax) hi = (C)tmax->data<T>()[0];
        Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
        unary_map(x.data<T>(), y.data<T>(), x.numel(), [lo, hi](T t) {
          C v = (C)t;
          return to_storage<T>(v < lo ? lo : (v > hi ? hi : v));
        });
      }
    });
  }

 private:
  bool from_inputs_;
  float lo_, hi_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_activation_kernels) {
  // An op whose kernel is a float function with attributes parsed by `make`.
  auto with_attrs = [&](const char* op, int64_t since, auto make) {
    r.add({DeviceType::Cpu, "", op, since, kMaxOpset}, [make](const KernelInfo& info) { return make(info.node); });
  };

  r.add_fn("", "Relu", 1, kMaxOpset, [](KernelContext& ctx) {
    numeric_unary(ctx, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
  });
  r.add_fn("", "Sigmoid", 1, kMaxOpset,
           [](KernelContext& ctx) { float_unary_vec(ctx, vec::sigmoid, [](auto v) { return sigmoid(v); }); });
  r.add_fn("", "Tanh", 1, kMaxOpset,
           [](KernelContext& ctx) { float_unary_vec(ctx, vec::tanh, [](auto v) { return std::tanh(v); }); });
  r.add_fn("", "Softplus", 1, kMaxOpset,
           [](KernelContext& ctx) { float_unary(ctx, [](auto v) { return softplus(v); }, 8); });
  r.add_fn("", "Softsign", 1, kMaxOpset,
           [](KernelContext& ctx) { float_unary(ctx, [](auto v) { return v / (decltype(v)(1) + std::fabs(v)); }); });
  r.add_fn("", "HardSwish", 14, kMaxOpset, [](KernelContext& ctx) {
    float_unary(ctx, [](auto v) {
      using C = decltype(v);
      C t = v / C(6) + C(0.5);
      return v * (t < C(0) ? C(0) : (t > C(1) ? C(1) : t));
    });
  });
  r.add_fn("", "Mish", 18, kMaxOpset,
           [](KernelContext& ctx) { float_unary(ctx, [](auto v) { return v * std::tanh(softplus(v)); }, 8); });

  with_attrs("LeakyRelu", 1, [](const Node& n) {
    float a = n.attr_float("alpha", 0.01f);
    return make_fn([a](KernelContext& ctx) {
      float_unary(ctx, [a](auto v) { return v < 0 ? decltype(v)(a) * v : v; });
    });
  });
  with_attrs("Elu", 1, [](const Node& n) {
    float a = n.attr_float("alpha", 1.0f);
    return make_fn([a](KernelContext& ctx) {
      float_unary(ctx, [a](auto v) { return v < 0 ? decltype(v)(a) * std::expm1(v) : v; }, 8);
    });
  });
  with_attrs("Selu", 1, [](const Node& n) {
    float a = n.attr_float("alpha", 1.67326319217681884765625f);
    float g = n.attr_float("gamma", 1.05070102214813232421875f);
    return make_fn([a, g](KernelContext& ctx) {
      float_unary(ctx, [a, g](auto v) {
        using C = decltype(v);
        return v > 0 ? C(g) * v : C(g) * (C(a) * std::exp(v) - C(a));
      }, 8);
    });
  });
  with_attrs("Celu", 12, [](const Node& n) {
    float a = n.attr_float("alpha", 1.0f);
    return make_fn([a](KernelContext& ctx) {
      float_unary(ctx, [a](auto v) {
        using C = decltype(v);
        return v > 0 ? v : C(a) * std::expm1(v / C(a));
      }, 8);
    });
  });
  with_attrs("HardSigmoid", 1, [](const Node& n) {
    float a = n.attr_float("alpha", 0.2f), b = n.attr_float("beta", 0.5f);
    return make_fn([a, b](KernelContext& ctx) {
      float_unary(ctx, [a, b](auto v) {
        using C = decltype(v);
        C t = C(a) * v + C(b);
        return t < C(0) ? C(0) : (t > C(1) ? C(1) : t);
      });
    });
  });
  with_attrs("ThresholdedRelu", 10, [](const Node& n) {
    float a = n.attr_float("alpha", 1.0f);
    return make_fn([a](KernelContext& ctx) {
      float_unary(ctx, [a](auto v) { return v > decltype(v)(a) ? v : decltype(v)(0); });
    });
  });
  with_attrs("Shrink", 9, [](const Node& n) {
    float bias = n.attr_float("bias", 0.0f), l = n.attr_float("lambd", 0.5f);
    return make_fn([bias, l](KernelContext& ctx) {
      numeric_unary(ctx, [bias, l](auto v) {
        using C = decltype(v);
        double d = (double)v;
        return d < -l ? (C)(d + bias) : (d > l ? (C)(d - bias) : C(0));
      });
    });
  });
  with_attrs("Gelu", 20, [](const Node& n) {
    std::string approx = n.attr_string("approximate", "none");
    KILN_CHECK(approx == "none" || approx == "tanh", BadModel, "{}: approximate must be 'none' or 'tanh', not '{}'",
               n.label(), approx);
    if (approx == "tanh")
      return make_fn([](KernelContext& ctx) {
        float_unary_vec(ctx, vec::gelu_tanh, [](auto v) {
          using C = decltype(v);
          const C k = C(0.7978845608028654);  // sqrt(2/pi)
          return C(0.5) * v * (C(1) + std::tanh(k * (v + C(0.044715) * v * v * v)));
        });
      });
    return make_fn([](KernelContext& ctx) {
      float_unary_vec(ctx, vec::gelu_erf, [](auto v) {
        using C = decltype(v);
        return C(0.5) * v * (C(1) + std::erf(v * C(0.7071067811865476)));
      });
    });
  });
  r.add_fn("", "PRelu", 1, kMaxOpset, prelu);
  r.add({DeviceType::Cpu, "", "Clip", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ClipKernel>(info); });
}

}  // namespace kiln::cpu
