// Ops that make new tensors from a few numbers: Range, ConstantOfShape, EyeLike, OneHot, Trilu,
// CumSum, NonZero.
#include <cmath>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

void range_compute(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor &s = ctx.input(0), &l = ctx.input(1), &d = ctx.input(2);
  KILN_CHECK(s.numel() == 1 && l.numel() == 1 && d.numel() == 1, BadInput, "{}: start, limit and delta must be scalars",
             node.label());
  KILN_CHECK(s.dtype() == l.dtype() && s.dtype() == d.dtype(), BadInput, "{}: start, limit and delta must share a type",
             node.label());
  dispatch_numeric(s.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw BadInput(fmt::format("{}: Range does not take bool", node.label()));
    } else {
      T start = s.data<T>()[0], limit = l.data<T>()[0], delta = d.data<T>()[0];
      KILN_CHECK((double)delta != 0, BadInput, "{}: delta must not be 0", node.label());
      double cnt = std::ceil(((double)limit - (double)start) / (double)delta);
      int64_t n = std::max<int64_t>(0, (int64_t)cnt);
      Tensor& y = ctx.allocate_output(0, s.dtype(), {n});
      T* p = y.data<T>();
      // Each element is start + i*delta computed in T (as the spec's loop accumulates in T).
      T v = start;
      for (int64_t i = 0; i < n; ++i) {
        p[i] = v;
        v = T((double)v + (double)delta);
      }
    }
  });
}

class ConstantOfShapeKernel : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(const KernelInfo& info) {
    if (const Attribute* a = info.node.attr("value")) {
      KILN_CHECK(a->t.numel() == 1, BadModel, "{}: value must hold one element", info.node.label());
      value_ = a->t.reshape({});
    } else {
      value_ = Tensor::scalar<float>(0.f);
    }
  }
  void compute(KernelContext& ctx) override {
    std::vector<int64_t> dims = read_ints(ctx.input(0), ctx.node(), "shape");
    for (int64_t d : dims) KILN_CHECK(d >= 0, BadInput, "{}: shape has a negative entry", ctx.node().label());
    Tensor& y = ctx.allocate_output(0, value_.dtype(), Shape(dims.begin(), dims.end()));
    fill_elements(y, 0, value_, 0, y.numel());
  }

 private:
  Tensor value_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_generate_kernels) {
  r.add_fn("", "Range", 11, kMaxOpset, range_compute);
  r.add({DeviceType::Cpu, "", "ConstantOfShape", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConstantOfShapeKernel>(info); });
}

}  // namespace kiln::cpu
