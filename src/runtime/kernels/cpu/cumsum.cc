// CumSum along an axis given as an input; exclusive and reverse attributes.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class CumSumKernel : public OpKernel {
 public:
  explicit CumSumKernel(const KernelInfo& info)
      : exclusive_(info.node.attr_int("exclusive", 0) != 0), reverse_(info.node.attr_int("reverse", 0) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int axis = normalize_axis(ctx.input(1).item_i64(0), x.rank(), ctx.node());
    int64_t n = x.rank() ? x.shape()[axis] : 1, outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: CumSum does not take bool", ctx.node().label()));
      } else {
        using Acc = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;
        const T* xp = x.data<T>();
        T* yp = y.data<T>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            Acc acc = Acc(0);
            for (int64_t t = 0; t < n; ++t) {
              int64_t s = reverse_ ? n - 1 - t : t;
              int64_t off = (o * n + s) * inner + i;
              if (exclusive_) {
                yp[off] = T(acc);
                acc = Acc(acc + Acc(xp[off]));
              } else {
                acc = Acc(acc + Acc(xp[off]));
                yp[off] = T(acc);
              }
            }
          }
      }
    });
  }

 private:
  bool exclusive_, reverse_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_cumsum_kernels) {
  r.add({DeviceType::Cpu, "", "CumSum", 11, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<CumSumKernel>(info); });
}

}  // namespace kiln::cpu
