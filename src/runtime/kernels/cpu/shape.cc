// Shape (opset 15 adds start/end) and Size: a tensor's dimensions and element count.
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class ShapeKernel : public OpKernel {
 public:
  explicit ShapeKernel(const KernelInfo& info)
      : start_(info.node.attr_int("start", 0)), end_(info.node.attr_int("end", INT64_MAX)),
        has_end_(info.node.has_attr("end")) {}
  void compute(KernelContext& ctx) override {
    const Shape& s = ctx.input(0).shape();
    int64_t r = (int64_t)s.size();
    auto clampi = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, (int64_t)0, r); };
    int64_t b = clampi(start_), e = has_end_ ? clampi(end_) : r;
    Tensor& y = ctx.allocate_output(0, DType::I64, {std::max<int64_t>(e - b, 0)});
    int64_t* py = y.data<int64_t>();
    for (int64_t i = b; i < e; ++i) py[i - b] = s[i];
  }

 private:
  int64_t start_, end_;
  bool has_end_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_shape_kernels) {
  r.add({DeviceType::Cpu, "", "Shape", 1, kMaxOpset}, make<ShapeKernel>());
  r.add_fn("", "Size", 1, kMaxOpset, [](KernelContext& ctx) {
    ctx.set_output(0, Tensor::scalar<int64_t>(ctx.input(0).numel()));
  });
}

}  // namespace kiln::cpu
