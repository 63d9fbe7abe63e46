// DFT and STFT (opset 17) by the direct O(n^2) sum, in double. Signals are [batch, ..., 1 | 2]
// (real or complex in the last dim); outputs are complex [..., 2].
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// out[k] = sum_n in[n] * exp(sign * 2 pi i k n / len) for k < bins; in has `n_in` complex values
// (missing ones are zero), spaced `stride` complex values apart; likewise out.
void dft_line(const double* in, int64_t n_in, int64_t in_stride, double* out, int64_t out_stride, int64_t len,
              int64_t bins, bool inverse) {
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t n_used = std::min(n_in, len);
  for (int64_t k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (int64_t n = 0; n < n_used; ++n) {
      double a = sign * 2 * M_PI * (double)((k * n) % len) / (double)len;
      double c = std::cos(a), s = std::sin(a);
      double xr = in[2 * n * in_stride], xi = in[2 * n * in_stride + 1];
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    if (inverse) {
      re /= (double)len;
      im /= (double)len;
    }
    out[2 * k * out_stride] = re;
    out[2 * k * out_stride + 1] = im;
  }
}

// The input as complex doubles [..., 2].
Tensor to_complex(const Tensor& x, const Node& node) {
  KILN_CHECK(dtype_is_float(x.dtype()) && x.rank() >= 2 && (x.dim(-1) == 1 || x.dim(-1) == 2), BadInput,
             "{}: signal must be float [..., 1 | 2], got {} {}", node.label(), dtype_name(x.dtype()),
             shape_str(x.shape()));
  Tensor xd = x.cast(DType::F64);
  if (x.dim(-1) == 2) return xd;
  Shape s = x.shape();
  s.back() = 2;
  Tensor c = Tensor::zeros(DType::F64, s);
  for (int64_t i = 0; i < xd.numel(); ++i) c.data<double>()[2 * i] = xd.data<double>()[i];
  return c;
}

class DftKernel : public OpKernel {
 public:
  explicit DftKernel(const KernelInfo& info) {
    axis_ = info.node.attr_int("axis", 1);
    inverse_ = info.node.attr_int("inverse", 0) != 0;
    onesided_ = info.node.attr_int("onesided", 0) != 0;
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    Tensor x = to_complex(x0, node);
    const int r = x.rank();
    int axis = normalize_axis(axis_, r - 1, node);  // the last dim holds re/im
    const int64_t n_in = x.dim(axis);
    int64_t len = n_in;
    if (const Tensor* l = ctx.input_or_null(1)) len = l->item_i64(0);
    KILN_CHECK(len > 0, BadInput, "{}: dft_length must be positive", node.label());
    KILN_CHECK(!(onesided_ && x0.dim(-1) == 2), BadInput, "{}: onesided needs a real input", node.label());
    const int64_t bins = onesided_ ? len / 2 + 1 : len;
    Shape os = x.shape();
    os[axis] = bins;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int d = axis + 1; d < r - 1; ++d) inner *= x.dim(d);
    Tensor y(DType::F64, os);
    const double* px = x.data<double>();
    double* py = y.data<double>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        dft_line(px + 2 * (o * n_in * inner + i), n_in, inner, py + 2 * (o * bins * inner + i), inner, len, bins,
                 inverse_);
    ctx.set_output(0, y.cast(x0.dtype()));
  }

 private:
  int64_t axis_;
  bool inverse_, onesided_;
};

class StftKernel : public OpKernel {
 public:
  explicit StftKernel(const KernelInfo& info) : onesided_(info.node.attr_int("onesided", 1) != 0) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    Tensor x = to_complex(x0, node);
    KILN_CHECK(x.rank() == 3, BadInput, "{}: signal must be [batch, length, 1 | 2]", node.label());
    const int64_t step = ctx.input(1).item_i64(0);
    const Tensor* window = ctx.input_or_null(2);
    int64_t frame = window ? window->numel() : 0;
    if (const Tensor* fl = ctx.input_or_null(3)) frame = fl->item_i64(0);
    KILN_CHECK(step > 0 && frame > 0 && frame <= x.dim(1), BadInput,
               "{}: frame_step and frame_length must be positive and the frame must fit the signal", node.label());
    KILN_CHECK(!window || window->numel() == frame, BadInput, "{}: window has {} values, frame_length is {}",
               node.label(), window ? window->numel() : 0, frame);
    KILN_CHECK(!(onesided_ && x0.dim(-1) == 2), BadInput, "{}: onesided needs a real signal", node.label());
    const int64_t B = x.dim(0), L = x.dim(1), frames = 1 + (L - frame) / step;
    const int64_t bins = onesided_ ? frame / 2 + 1 : frame;
    Tensor y(DType::F64, {B, frames, bins, 2});
    std::vector<double> buf(2 * frame);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t f = 0; f < frames; ++f) {
        const double* src = x.data<double>() + 2 * (b * L + f * step);
        for (int64_t n = 0; n < frame; ++n) {
          double w = window ? window->item_f64(n) : 1.0;
          buf[2 * n] = src[2 * n] * w;
          buf[2 * n + 1] = src[2 * n + 1] * w;
        }
        dft_line(buf.data(), frame, 1, y.data<double>() + 2 * (b * frames + f) * bins, 1, frame, bins, false);
      }
    ctx.set_output(0, y.cast(x0.dtype()));
  }

 private:
  bool onesided_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_dft_kernels) {
  r.add({DeviceType::Cpu, "", "DFT", 17, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<DftKernel>(info); });
  r.add({DeviceType::Cpu, "", "STFT", 17, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<StftKernel>(info); });
}

}  // namespace kiln::cpu
