// OneHot: indices, depth, values [off, on]; a new axis of size depth.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class OneHotKernel : public OpKernel {
 public:
  explicit OneHotKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", -1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& ind = ctx.input(0);
    int64_t depth = (int64_t)ctx.input(1).item_f64(0);
    const Tensor& values = ctx.input(2);
    KILN_CHECK(values.numel() == 2, BadInput, "{}: values must hold [off, on]", node.label());
    KILN_CHECK(depth > 0, BadInput, "{}: depth must be positive, is {}", node.label(), depth);
    int r = ind.rank() + 1;
    int64_t a = axis_ < 0 ? axis_ + r : axis_;
    KILN_CHECK(a >= 0 && a < r, BadModel, "{}: axis {} is out of range", node.label(), axis_);
    Shape out = ind.shape();
    out.insert(out.begin() + a, depth);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a; ++d) outer *= ind.shape()[d];
    for (int d = (int)a; d < ind.rank(); ++d) inner *= ind.shape()[d];
    Tensor& y = ctx.allocate_output(0, values.dtype(), out);
    fill_elements(y, 0, values, 0, y.numel());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = (int64_t)ind.item_f64(o * inner + i);
        if (v < 0) v += depth;
        if (v < 0 || v >= depth) continue;
        copy_elements(y, (o * depth + v) * inner + i, values, 1, 1);
      }
  }

 private:
  int64_t axis_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_one_hot_kernels) {
  r.add({DeviceType::Cpu, "", "OneHot", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<OneHotKernel>(info); });
}

}  // namespace kiln::cpu
