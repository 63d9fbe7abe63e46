// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class TriluKernel : public OpKernel {
 public:
  explicit TriluKernel(const KernelInfo& info) : upper_(info.node.attr_int("upper", 1) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() >= 2, BadInput, "{}: input must have rank >= 2, has shape {}", ctx.node().label(),
               shape_str(x.shape()));
    int64_t k = ctx.has_input(1) ? ctx.input(1).item_i64(0) : 0;
    int64_t rows = x.dim(-2), cols = x.dim(-1), mats = x.numel() / std::max<int64_t>(rows * cols, 1);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    Tensor zero = x.dtype() == DType::String ? Tensor(DType::String, {}) : Tensor::scalar<double>(0).cast(x.dtype());
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i) {
        int64_t base = (m * rows + i) * cols;
        for (int64_t j = 0; j < cols; ++j) {
          bool keep = upper_ ? j - i >= k : j - i <= k;
          if (keep) copy_elements(y, base + j, x, base + j, 1);
          else copy_elements(y, base + j, zero, 0, 1);
        }
      }
  }

 private:
  bool upper_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_trilu_kernels) {
  r.add({DeviceType::Cpu, "", "Trilu", 14, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<TriluKernel>(info); });
}

}  // namespace kiln::cpu
