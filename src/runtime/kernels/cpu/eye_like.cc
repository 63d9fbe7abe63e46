// EyeLike: ones on the k-th diagonal of a 2-D shape.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class EyeLikeKernel : public OpKernel {
 public:
  explicit EyeLikeKernel(const KernelInfo& info)
      : k_(info.node.attr_int("k", 0)), dtype_((DType)info.node.attr_int("dtype", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() == 2, BadInput, "{}: input must be 2-D, has shape {}", ctx.node().label(),
               shape_str(x.shape()));
    DType dt = dtype_ == DType::Undefined ? x.dtype() : dtype_;
    Tensor& y = ctx.allocate_output(0, dt, x.shape());
    Tensor zero = Tensor::scalar<double>(0).cast(dt), one = Tensor::scalar<double>(1).cast(dt);
    fill_elements(y, 0, zero, 0, y.numel());
    for (int64_t i = 0; i < x.shape()[0]; ++i) {
      int64_t j = i + k_;
      if (j >= 0 && j < x.shape()[1]) copy_elements(y, i * x.shape()[1] + j, one, 0, 1);
    }
  }

 private:
  int64_t k_;
  DType dtype_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_eye_like_kernels) {
  r.add({DeviceType::Cpu, "", "EyeLike", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<EyeLikeKernel>(info); });
}

}  // namespace kiln::cpu
