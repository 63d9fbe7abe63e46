// Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2D at `axis` (default 1)
// and normalised over everything from `axis` on; from opset 13 on only the one `axis` (default -1).
#include <cmath>
#include <limits>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Kind { Softmax, LogSoftmax, Hardmax };

// One softmax over n values spaced `stride` apart (float or double).
template <typename C>
void softmax_line(const C* x, C* y, int64_t n, int64_t stride, Kind kind) {
  if (kind == Kind::Hardmax) {
    int64_t best = 0;
    for (int64_t k = 1; k < n; ++k)
      if (x[k * stride] > x[best * stride]) best = k;
    for (int64_t k = 0; k < n; ++k) y[k * stride] = k == best ? C(1) : C(0);
    return;
  }
  if constexpr (std::is_same_v<C, float>) {
    if (stride == 1 && kind == Kind::Softmax) {
      vec::softmax(x, y, n);  // finds the maximum itself, vectorised
      return;
    }
  }
  C m = -std::numeric_limits<C>::infinity();
  for (int64_t k = 0; k < n; ++k) m = std::max(m, x[k * stride]);
  if (std::isinf(m) && m < 0) m = 0;  // all -inf: keep exp(-inf - 0) = 0 rather than NaN
  if (kind == Kind::LogSoftmax) {
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += std::exp((double)(x[k * stride] - m));
    C ls = (C)std::log(s);
    for (int64_t k = 0; k < n; ++k) y[k * stride] = x[k * stride] - m - ls;
    return;
  }
  if (stride == 1) {
    C s = 0;
    for (int64_t k = 0; k < n; ++k) {
      C e = std::exp(x[k] - m);
      y[k] = e;
      s += e;
    }
    C inv = C(1) / s;
    for (int64_t k = 0; k < n; ++k) y[k] *= inv;
    return;
  }
  C s = 0;
  for (int64_t k = 0; k < n; ++k) {
    C e = std::exp(x[k * stride] - m);
    y[k * stride] = e;
    s += e;
  }
  C inv = C(1) / s;
  for (int64_t k = 0; k < n; ++k) y[k * stride] *= inv;
}

class SoftmaxKernel : public OpKernel {
 public:
  SoftmaxKernel(const KernelInfo& info, Kind kind) : kind_(kind), coerce_2d_(info.opset < 13) {
    axis_ = info.node.attr_int("axis", coerce_2d_ ? 1 : -1);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int r = x.rank();
    int axis = r == 0 ? 0 : normalize_axis(axis_, r, ctx.node());
    int64_t outer = 1, n = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    if (coerce_2d_) {
      for (int d = axis; d < r; ++d) n *= x.dim(d);
    } else {
      if (r > 0) n = x.dim(axis);
      for (int d = axis + 1; d < r; ++d) inner *= x.dim(d);
    }
    auto run = [&](const auto* px, auto* py) {
      Kind kind = kind_;
      parallel_for(outer * inner, n * 8, [&](long b, long e) {
        for (long li = b; li < e; ++li) {
          int64_t o = li / inner, i = li % inner;
          softmax_line(px + o * n * inner + i, py + o * n * inner + i, n, inner, kind);
        }
      });
    };
    switch (x.dtype()) {
      case DType::F32: run(x.data<float>(), ctx.allocate_output(0, DType::F32, x.shape()).data<float>()); return;
      case DType::F64: run(x.data<double>(), ctx.allocate_output(0, DType::F64, x.shape()).data<double>()); return;
      case DType::F16:
      case DType::BF16: {
        Tensor xf = x.cast(DType::F32);
        Tensor yf(DType::F32, x.shape());
        run(xf.data<float>(), yf.data<float>());
        ctx.set_output(0, yf.cast(x.dtype()));
        return;
      }
      default:
        throw BadInput(fmt::format("{}: input must be a float tensor, not {}", ctx.node().label(),
                                   dtype_name(x.dtype())));
    }
  }

 private:
  Kind kind_;
  bool coerce_2d_;
  int64_t axis_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_softmax_kernels) {
  auto reg = [&](const char* op, Kind k) {
    r.add({DeviceType::Cpu, "", op, 1, kMaxOpset},
          [k](const KernelInfo& info) { return std::make_unique<SoftmaxKernel>(info, k); });
  };
  reg("Softmax", Kind::Softmax);
  reg("LogSoftmax", Kind::LogSoftmax);
  reg("Hardmax", Kind::Hardmax);
}

}  // namespace kiln::cpu
