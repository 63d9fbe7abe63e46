// HannWindow, HammingWindow, BlackmanWindow (opset 17): a 1-D window of `size` values,
// periodic (denominator N, the default) or symmetric (N - 1), in the type output_datatype names.
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Window { Hann, Hamming, Blackman };

class WindowKernel : public OpKernel {
 public:
  WindowKernel(const KernelInfo& info, Window w) : w_(w) {
    periodic_ = info.node.attr_int("periodic", 1) != 0;
    int64_t t = info.node.attr_int("output_datatype", (int64_t)DType::F32);
    KILN_CHECK(dtype_is_known((int32_t)t) && t != (int64_t)DType::String && t != 0, BadModel,
               "{}: output_datatype {} is not a numeric type", info.node.label(), t);
    out_ = (DType)t;
  }

  void compute(KernelContext& ctx) override {
    const Tensor& size_t_ = ctx.input(0);
    KILN_CHECK(size_t_.numel() == 1, BadInput, "{}: size must be a scalar", ctx.node().label());
    int64_t n = size_t_.item_i64(0);
    KILN_CHECK(n >= 0, BadInput, "{}: size must not be negative, got {}", ctx.node().label(), n);
    Tensor w(DType::F64, {n});
    double* p = w.data<double>();
    const double denom = periodic_ ? (double)n : (double)(n - 1);
    for (int64_t i = 0; i < n; ++i) {
      double a = denom > 0 ? 2 * M_PI * (double)i / denom : 0.0;
      switch (w_) {
        case Window::Hann: p[i] = 0.5 - 0.5 * std::cos(a); break;
        case Window::Hamming: p[i] = 25.0 / 46.0 - (1 - 25.0 / 46.0) * std::cos(a); break;
        case Window::Blackman: p[i] = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a); break;
      }
    }
    ctx.set_output(0, out_ == DType::F64 ? w : w.cast(out_));
  }

 private:
  Window w_;
  bool periodic_ = true;
  DType out_ = DType::F32;
};

}  // namespace

KILN_REGISTER_KERNELS(register_signal_window_kernels) {
  auto win = [&](const char* op, Window w) {
    r.add({DeviceType::Cpu, "", op, 17, kMaxOpset},
          [w](const KernelInfo& info) { return std::make_unique<WindowKernel>(info, w); });
  };
  win("HannWindow", Window::Hann);
  win("HammingWindow", Window::Hamming);
  win("BlackmanWindow", Window::Blackman);
}

}  // namespace kiln::cpu
