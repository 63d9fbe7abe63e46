// Add, Sub, Mul, Div, Pow, Mod, BitShift: binary arithmetic with numpy broadcasting over every
// numeric type (16-bit floats computed in float). Opset < 7 used explicit `broadcast`/`axis`
// attributes; with `axis` given, B is aligned to A at that axis.
#include <cmath>
#include <limits>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// B's shape as the legacy (opset < 7) broadcast saw it: aligned to A at `axis`.
Shape legacy_b_shape(const Node& node, int64_t opset, const Shape& a, const Shape& b) {
  if (opset >= 7 || !node.attr_int("broadcast", 0) || !node.has_attr("axis")) return b;
  int axis = normalize_axis(node.attr_int("axis", 0), (int)a.size(), node);
  Shape s = b;
  while ((int)s.size() < (int)a.size() - axis) s.push_back(1);
  return s;
}

void check_same_type(const Tensor& a, const Tensor& b, const Node& node) {
  KILN_CHECK(a.dtype() == b.dtype(), BadInput, "{}: inputs have different types {} and {}", node.label(),
             dtype_name(a.dtype()), dtype_name(b.dtype()));
}

enum class Arith { Add = 0, Sub = 1, Mul = 2, Div = 3 };  // values as vec::arith numbers them

template <typename C>
inline C safe_div(C x, C y) {
  if constexpr (std::is_integral_v<C>) {
    if (y == 0) return C(0);  // integer division by zero: defined as 0 rather than a crash
    if constexpr (std::is_signed_v<C>) {
      // x / -1 is -x, which for the most negative x does not fit C: the CPU traps (SIGFPE) and C++
      // calls it undefined. kiln wraps it as two's complement does, so INT_MIN / -1 == INT_MIN (as
      // Java and Go define it). Negating in the unsigned type keeps the arithmetic defined.
      if (y == C(-1)) return (C)(std::make_unsigned_t<C>(0) - (std::make_unsigned_t<C>)x);
    }
  }
  return x / y;
}

class ArithKernel : public OpKernel {
 public:
  ArithKernel(const KernelInfo& info, Arith op) : op_(op), opset_(info.opset) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_same_type(a, b, node);
    Shape bs = legacy_b_shape(node, opset_, a.shape(), b.shape());
    Shape os = broadcast_shapes({a.shape(), bs}, node);
    Tensor& o = ctx.allocate_output(0, a.dtype(), os);
    if (a.dtype() == DType::F32) {  // the hot case: per-ISA vector loops
      compute_f32(a.data<float>(), a.shape(), b.data<float>(), bs, o.data<float>(), os);
      return;
    }
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw Unsupported(fmt::format("{}: bool inputs are not arithmetic; cast them first", node.label()));
      } else {
        using C = ComputeT<T>;
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* po = o.data<T>();
        switch (op_) {
          case Arith::Add: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return (C)(x + y); }); break;
          case Arith::Sub: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return (C)(x - y); }); break;
          case Arith::Mul: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return (C)(x * y); }); break;
          case Arith::Div: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return safe_div(x, y); }); break;
        }
      }
    });
  }

 private:
  void compute_f32(const float* a, const Shape& as, const float* b, const Shape& bs, float* o, const Shape& os) const {
    const int op = (int)op_;
    const Isa isa = active_isa();
    if (as == os && bs == os) {
      parallel_for(shape_numel(os), 1, [&](long s, long e) { vec::arith(op, a + s, 1, b + s, 1, o + s, e - s, isa); });
      return;
    }
    BroadcastLayout L({as, bs}, os);
    for_each_row(L, 1, [&](int64_t begin, int64_t n, const int64_t* offs) {
      vec::arith(op, a + offs[0], L.steps[0], b + offs[1], L.steps[1], o + begin, n, isa);
    });
  }

  Arith op_;
  int64_t opset_;
};

// Pow(X, Y): the result has X's type; since opset 12 Y may have another numeric type.
class PowKernel : public OpKernel {
 public:
  explicit PowKernel(const KernelInfo& info) : opset_(info.opset) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Shape bs = legacy_b_shape(node, opset_, a.shape(), b.shape());
    Shape os = broadcast_shapes({a.shape(), bs}, node);
    Tensor& o = ctx.allocate_output(0, a.dtype(), os);
    if (a.dtype() == DType::F32 && b.dtype() == DType::F32 && b.numel() == 1 && os == a.shape()) {
      float e = b.data<float>()[0];
      const float* x = a.data<float>();
      float* y = o.data<float>();
      int64_t n = a.numel();
      if (e == 2.0f) unary_map(x, y, n, [](float v) { return v * v; });
      else if (e == 1.0f) unary_map(x, y, n, [](float v) { return v; });
      else if (e == 3.0f) unary_map(x, y, n, [](float v) { return v * v * v; });
      else if (e == 0.5f) unary_map(x, y, n, [](float v) { return std::sqrt(v); });
      else unary_map(x, y, n, [e](float v) { return std::pow(v, e); }, 8);
      return;
    }
    if (a.dtype() == b.dtype() && dtype_is_float(a.dtype())) {
      dispatch_numeric(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if constexpr (is_float_v<T>) {
          using C = ComputeT<T>;
          binary_map<C>(a.data<T>(), a.shape(), b.data<T>(), bs, o.data<T>(), os,
                        [](C x, C y) { return (C)std::pow(x, y); }, 8);
        }
      });
      return;
    }
    // Mixed or integer types: compute in double, store in X's type.
    KILN_CHECK(a.dtype() != DType::Bool && b.dtype() != DType::Bool, BadInput, "{}: bool inputs are not supported",
               node.label());
    Tensor bd = b.dtype() == DType::F64 ? b : b.cast(DType::F64);
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) {
        binary_map<double>(a.data<T>(), a.shape(), bd.data<double>(), bs, o.data<T>(), os,
                           [](double x, double y) { return std::pow(x, y); }, 8);
      }
    });
  }

 private:
  int64_t opset_;
};

// Mod: fmod=1 keeps the dividend's sign (C fmod); fmod=0 the divisor's (Python %), integers only.
class ModKernel : public OpKernel {
 public:
  explicit ModKernel(const KernelInfo& info) : fmod_(info.node.attr_int("fmod", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_same_type(a, b, node);
    Shape os = broadcast_shapes({a.shape(), b.shape()}, node);
    Tensor& o = ctx.allocate_output(0, a.dtype(), os);
    bool fm = fmod_;
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw Unsupported(fmt::format("{}: bool inputs are not supported", node.label()));
      } else {
        using C = ComputeT<T>;
        binary_map<C>(a.data<T>(), a.shape(), b.data<T>(), b.shape(), o.data<T>(), os, [fm](C x, C y) -> C {
          if constexpr (std::is_integral_v<C>) {
            if (y == 0) return C(0);
            if constexpr (std::is_signed_v<C>) {
              if (y == C(-1)) return C(0);
              C r = (C)(x % y);
              if (!fm && r != 0 && ((r < 0) != (y < 0))) r = (C)(r + y);
              return r;
            } else {
              return (C)(x % y);
            }
          } else {
            C r = std::fmod(x, y);
            if (!fm && r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
          }
        });
      }
    });
  }

 private:
  bool fmod_;
};

class BitShiftKernel : public OpKernel {
 public:
  explicit BitShiftKernel(const KernelInfo& info) {
    std::string d = info.node.attr_string("direction", "");
    KILN_CHECK(d == "LEFT" || d == "RIGHT", BadModel, "{}: direction must be LEFT or RIGHT, not '{}'",
               info.node.label(), d);
    left_ = d == "LEFT";
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_same_type(a, b, node);
    Shape os = broadcast_shapes({a.shape(), b.shape()}, node);
    Tensor& o = ctx.allocate_output(0, a.dtype(), os);
    bool left = left_;
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
        binary_map<T>(a.data<T>(), a.shape(), b.data<T>(), b.shape(), o.data<T>(), os, [left](T x, T y) -> T {
          if (y >= (T)(sizeof(T) * 8)) return T(0);
          return left ? (T)(x << y) : (T)(x >> y);
        });
      } else {
        throw Unsupported(fmt::format("{}: BitShift takes unsigned integers, not {}", node.label(),
                                      dtype_name(a.dtype())));
      }
    });
  }

 private:
  bool left_ = true;
};

}  // namespace

KILN_REGISTER_KERNELS(register_elementwise_binary_kernels) {
  auto arith = [&](const char* op, Arith a) {
    r.add({DeviceType::Cpu, "", op, 1, kMaxOpset},
          [a](const KernelInfo& info) { return std::make_unique<ArithKernel>(info, a); });
  };
  arith("Add", Arith::Add);
  arith("Sub", Arith::Sub);
  arith("Mul", Arith::Mul);
  arith("Div", Arith::Div);
  r.add({DeviceType::Cpu, "", "Pow", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<PowKernel>(info); });
  r.add({DeviceType::Cpu, "", "Mod", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ModKernel>(info); });
  r.add({DeviceType::Cpu, "", "BitShift", 11, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<BitShiftKernel>(info); });
}

}  // namespace kiln::cpu
