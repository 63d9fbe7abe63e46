// Resize (nearest / linear / cubic, every coordinate transformation mode of opsets 10-13) and the
// older Upsample. Separable: each axis gets, per output index, a few (input index, weight) taps;
// an output element is the weighted sum over the product of its axes' taps.
#include <cmath>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

struct Tap {
  int64_t index;
  double weight;
};

struct AxisTaps {
  std::vector<std::vector<Tap>> taps;  // per output index
  std::vector<bool> outside;           // tf_crop_and_resize: the coordinate left the input
};

struct ResizeAttrs {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

// `out` is the output length as ONNX's reference computes it: in * scale (not rounded) when scales
// are given, which matters for align_corners and tf_crop_and_resize.
double original_coordinate(const ResizeAttrs& a, int64_t x, double scale, int64_t in, double out, double roi_start,
                           double roi_end) {
  const std::string& m = a.coord;
  if (m == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (m == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (m == "align_corners") return out == 1 ? 0.0 : x * (double)(in - 1) / (out - 1);
  if (m == "asymmetric") return x / scale;
  if (m == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  // tf_crop_and_resize
  if (out > 1) return roi_start * (in - 1) + x * (roi_end - roi_start) * (in - 1) / (out - 1);
  return 0.5 * (roi_start + roi_end) * (in - 1);
}

AxisTaps axis_taps(const ResizeAttrs& a, int64_t in, int64_t out, double out_len, double scale, double roi_start,
                   double roi_end) {
  AxisTaps t;
  t.taps.resize(out);
  t.outside.assign(out, false);
  auto clampi = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  for (int64_t x = 0; x < out; ++x) {
    double xo = original_coordinate(a, x, scale, in, out_len, roi_start, roi_end);
    if (a.coord == "tf_crop_and_resize" && (xo < 0 || xo > in - 1)) {
      t.outside[x] = true;
      continue;
    }
    double fl = std::floor(xo), r = xo - fl;
    int64_t x0 = (int64_t)fl;
    auto& v = t.taps[x];
    if (a.mode == "nearest") {
      int64_t pick = x0;
      if (r != 0) {
        if (a.nearest == "round_prefer_floor") pick = r <= 0.5 ? x0 : x0 + 1;
        else if (a.nearest == "round_prefer_ceil") pick = r < 0.5 ? x0 : x0 + 1;
        else if (a.nearest == "floor") pick = x0;
        else pick = x0 + 1;  // ceil
      }
      v.push_back({clampi(pick), 1.0});
    } else if (a.mode == "linear") {
      if (r == 0) {
        v.push_back({clampi(x0), 1.0});
      } else {
        v.push_back({clampi(x0), 1 - r});
        v.push_back({clampi(x0 + 1), r});
      }
    } else {  // cubic, taps x0-1 .. x0+2
      double A = a.cubic_a;
      double c[4] = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                     ((A + 2) * r - (A + 3)) * r * r + 1,
                     ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                     ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A};
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        int64_t idx = x0 - 1 + k;
        if (a.exclude_outside && (idx < 0 || idx >= in)) c[k] = 0;
        sum += c[k];
      }
      for (int k = 0; k < 4; ++k) {
        double w = a.exclude_outside && sum != 0 ? c[k] / sum : c[k];
        if (w != 0) v.push_back({clampi(x0 - 1 + k), w});
      }
    }
  }
  return t;
}

void resize_run(KernelContext& ctx, const ResizeAttrs& a, const Tensor& x, const std::vector<double>& scales_in,
                const std::vector<int64_t>& sizes, const std::vector<double>& roi) {
  const Node& node = ctx.node();
  int r = x.rank();
  std::vector<double> scales(r, 1.0);
  Shape out(r);
  if (!sizes.empty()) {
    KILN_CHECK((int)sizes.size() == r, BadInput, "{}: sizes has {} entries for rank {}", node.label(), sizes.size(), r);
    for (int d = 0; d < r; ++d) {
      out[d] = sizes[d];
      scales[d] = x.shape()[d] ? (double)sizes[d] / (double)x.shape()[d] : 1.0;
    }
  } else {
    KILN_CHECK((int)scales_in.size() == r, BadInput, "{}: scales has {} entries for rank {}", node.label(),
               scales_in.size(), r);
    for (int d = 0; d < r; ++d) {
      KILN_CHECK(scales_in[d] > 0, BadInput, "{}: scales must be positive", node.label());
      scales[d] = scales_in[d];
      out[d] = (int64_t)std::floor(x.shape()[d] * scales_in[d] + 1e-9);
    }
  }
  std::vector<AxisTaps> taps;
  for (int d = 0; d < r; ++d) {
    double rs = 0, re = 1;
    if ((int)roi.size() == 2 * r) {
      rs = roi[d];
      re = roi[d + r];
    }
    double out_len = sizes.empty() ? x.shape()[d] * scales[d] : (double)out[d];
    taps.push_back(axis_taps(a, x.shape()[d], out[d], out_len, scales[d], rs, re));
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);
  int64_t n = y.numel();
  if (n == 0) return;
  auto st = contiguous_strides(x.shape());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    std::vector<int64_t> oc(r, 0), k(r, 0);
    for (int64_t o = 0; o < n; ++o) {
      bool outside = false;
      for (int d = 0; d < r; ++d)
        if (taps[d].outside[oc[d]]) outside = true;
      double acc = 0;
      if (outside) {
        acc = a.extrapolation;
      } else {
        std::fill(k.begin(), k.end(), 0);
        while (true) {
          double w = 1;
          int64_t off = 0;
          for (int d = 0; d < r; ++d) {
            const Tap& t = taps[d].taps[oc[d]][k[d]];
            w *= t.weight;
            off += t.index * st[d];
          }
          acc += w * (double)xp[off];
          int d = r - 1;
          for (; d >= 0; --d) {
            if (++k[d] < (int64_t)taps[d].taps[oc[d]].size()) break;
            k[d] = 0;
          }
          if (d < 0) break;
        }
      }
      if constexpr (std::is_integral_v<T>) yp[o] = (T)std::llround(acc);
      else yp[o] = T(acc);
      for (int d = r - 1; d >= 0; --d) {
        if (++oc[d] < out[d]) break;
        oc[d] = 0;
      }
    }
  });
}

std::vector<double> read_doubles(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.item_f64(i);
  return v;
}

class ResizeKernel : public OpKernel {
 public:
  explicit ResizeKernel(const KernelInfo& info) : opset_(info.opset) {
    const Node& n = info.node;
    a_.mode = n.attr_string("mode", "nearest");
    KILN_CHECK(a_.mode == "nearest" || a_.mode == "linear" || a_.mode == "cubic", BadModel,
               "{}: unknown mode '{}' (nearest, linear or cubic)", n.label(), a_.mode);
    if (opset_ < 11) {
      a_.coord = "asymmetric";
      a_.nearest = "floor";
    } else {
      a_.coord = n.attr_string("coordinate_transformation_mode", "half_pixel");
      a_.nearest = n.attr_string("nearest_mode", "round_prefer_floor");
    }
    a_.cubic_a = n.attr_float("cubic_coeff_a", -0.75f);
    a_.exclude_outside = n.attr_int("exclude_outside", 0) != 0;
    a_.extrapolation = n.attr_float("extrapolation_value", 0.f);
    static const char* coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                   "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    bool known = false;
    for (const char* c : coords) known |= a_.coord == c;
    KILN_CHECK(known, BadModel, "{}: unknown coordinate_transformation_mode '{}'", n.label(), a_.coord);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<double> scales, roi;
    std::vector<int64_t> sizes;
    if (opset_ < 11) {
      scales = read_doubles(ctx.input(1));
    } else {
      if (ctx.has_input(1)) roi = read_doubles(ctx.input(1));
      if (ctx.has_input(2)) scales = read_doubles(ctx.input(2));
      if (ctx.has_input(3)) sizes = ctx.input(3).to_i64_vector();
      if (!sizes.empty()) scales.clear();
    }
    resize_run(ctx, a_, x, scales, sizes, roi);
  }

 private:
  int64_t opset_;
  ResizeAttrs a_;
};

class UpsampleKernel : public OpKernel {
 public:
  explicit UpsampleKernel(const KernelInfo& info) : opset_(info.opset) {
    a_.mode = info.node.attr_string("mode", "nearest");
    if (a_.mode == "bilinear") a_.mode = "linear";
    a_.coord = "asymmetric";
    a_.nearest = "floor";
    if (opset_ < 9) {
      for (float f : info.node.attr_floats("scales")) scales_.push_back(f);
    }
  }
  void compute(KernelContext& ctx) override {
    std::vector<double> scales = opset_ < 9 ? scales_ : read_doubles(ctx.input(1));
    resize_run(ctx, a_, ctx.input(0), scales, {}, {});
  }

 private:
  int64_t opset_;
  ResizeAttrs a_;
  std::vector<double> scales_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_resize_kernels) {
  r.add({DeviceType::Cpu, "", "Resize", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ResizeKernel>(info); });
  r.add({DeviceType::Cpu, "", "Upsample", 7, 9},
        [](const KernelInfo& info) { return std::make_unique<UpsampleKernel>(info); });
}

}  // namespace kiln::cpu
