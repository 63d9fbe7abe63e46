// ConstantOfShape: a tensor of the shape given as an input, every element the `value` attribute.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

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

KILN_REGISTER_KERNELS(register_constant_of_shape_kernels) {
  r.add({DeviceType::Cpu, "", "ConstantOfShape", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConstantOfShapeKernel>(info); });
}

}  // namespace kiln::cpu
