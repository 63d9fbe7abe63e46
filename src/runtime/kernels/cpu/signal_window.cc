// Generators for spectrograms (opset 17): HannWindow, HammingWindow, BlackmanWindow (a 1-D window of
// `size` values, periodic (denominator N, the default) or symmetric (N - 1)) and MelWeightMatrix
// (triangular mel filters over the DFT bins), in the type output_datatype names.
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

DType output_type(const Node& n) {
  int64_t t = n.attr_int("output_datatype", (int64_t)DType::F32);
  KILN_CHECK(dtype_is_known((int32_t)t) && t != (int64_t)DType::String && t != 0, BadModel,
             "{}: output_datatype {} is not a numeric type", n.label(), t);
  return (DType)t;
}

// Filters between mel points from lower_edge_hertz in (upper - lower) / (num_mel_bins + 2) steps, each point
// mapped to a DFT bin floor((dft_length + 1) * hz / sample_rate); rising then falling edges.
class MelKernel : public OpKernel {
 public:
  explicit MelKernel(const KernelInfo& info) : out_(output_type(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const int64_t mel = ctx.input(0).item_i64(0), dft = ctx.input(1).item_i64(0), rate = ctx.input(2).item_i64(0);
    const double lo_hz = ctx.input(3).item_f64(0), hi_hz = ctx.input(4).item_f64(0);
    KILN_CHECK(mel > 0 && dft > 0 && rate > 0 && lo_hz >= 0 && hi_hz > lo_hz, BadInput,
               "{}: needs positive num_mel_bins, dft_length, sample_rate and 0 <= lower < upper edge", node.label());
    const int64_t spec_bins = dft / 2 + 1;
    auto to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
    // The step divides by the number of points (mel + 2), as the ONNX reference does.
    const double lo = to_mel(lo_hz), hi = to_mel(hi_hz), step = (hi - lo) / (double)(mel + 2);
    std::vector<int64_t> bin(mel + 2);
    for (int64_t i = 0; i < mel + 2; ++i) {
      double hz = 700.0 * (std::pow(10.0, (lo + step * (double)i) / 2595.0) - 1.0);
      bin[i] = (int64_t)std::floor((double)(dft + 1) * hz / (double)rate);
    }
    Tensor w = Tensor::zeros(DType::F64, {spec_bins, mel});
    double* p = w.data<double>();
    auto at = [&](int64_t j, int64_t i) -> double* {
      KILN_CHECK(j >= 0 && j < spec_bins, BadInput, "{}: upper_edge_hertz lies beyond the DFT bins", node.label());
      return &p[j * mel + i];
    };
    for (int64_t i = 0; i < mel; ++i) {
      int64_t a = bin[i], c = bin[i + 1], b = bin[i + 2];
      if (c == a) *at(c, i) = 1;
      else
        for (int64_t j = a; j <= c; ++j) *at(j, i) = (double)(j - a) / (double)(c - a);
      if (b > c)
        for (int64_t j = c; j < b; ++j) *at(j, i) = (double)(b - j) / (double)(b - c);
    }
    ctx.set_output(0, out_ == DType::F64 ? w : w.cast(out_));
  }

 private:
  DType out_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_signal_window_kernels) {
  r.add({DeviceType::Cpu, "", "MelWeightMatrix", 17, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MelKernel>(info); });
  auto win = [&](const char* op, Window w) {
    r.add({DeviceType::Cpu, "", op, 17, kMaxOpset},
          [w](const KernelInfo& info) { return std::make_unique<WindowKernel>(info, w); });
  };
  win("HannWindow", Window::Hann);
  win("HammingWindow", Window::Hamming);
  win("BlackmanWindow", Window::Blackman);
}

}  // namespace kiln::cpu
