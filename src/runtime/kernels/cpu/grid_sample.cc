// GridSample on 4-D inputs: sample X at the normalised (x, y) positions of `grid` with bilinear,
// nearest or bicubic interpolation and zeros / border / reflection padding (PyTorch's semantics,
// which ONNX adopted).
#include <cmath>

#include "runtime/kernels/cpu/common.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Interp { Linear, Nearest, Cubic };
enum class Padding { Zeros, Border, Reflection };

double reflect(double v, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
  v = std::fabs(v - lo);
  double extra = std::fmod(v, span);
  int64_t flips = (int64_t)std::floor(v / span);
  return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

class GridSampleKernel : public OpKernel {
 public:
  explicit GridSampleKernel(const KernelInfo& info) {
    const Node& n = info.node;
    std::string m = n.attr_string("mode", info.opset >= 20 ? "linear" : "bilinear");
    if (m == "bilinear" || m == "linear") mode_ = Interp::Linear;
    else if (m == "nearest") mode_ = Interp::Nearest;
    else if (m == "bicubic" || m == "cubic") mode_ = Interp::Cubic;
    else throw BadModel(fmt::format("{}: unknown mode '{}'", n.label(), m));
    std::string p = n.attr_string("padding_mode", "zeros");
    if (p == "zeros") pad_ = Padding::Zeros;
    else if (p == "border") pad_ = Padding::Border;
    else if (p == "reflection") pad_ = Padding::Reflection;
    else throw BadModel(fmt::format("{}: unknown padding_mode '{}'", n.label(), p));
    align_ = n.attr_int("align_corners", 0) != 0;
  }

  // Applies the padding mode to a coordinate (in pixels) along an axis of `size`.
  double pad_coord(double v, int64_t size) const {
    if (pad_ == Padding::Border) return std::clamp(v, 0.0, (double)(size - 1));
    if (pad_ == Padding::Reflection) {
      v = align_ ? reflect(v, 0, 2.0 * (size - 1)) : reflect(v, -1, 2.0 * size - 1);
      return std::clamp(v, 0.0, (double)(size - 1));
    }
    return v;
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    KILN_CHECK(x.rank() == 4 && grid.rank() == 4 && grid.shape()[3] == 2 && grid.shape()[0] == x.shape()[0],
               Unsupported, "{}: kiln runs GridSample on [N, C, H, W] inputs with [N, H_out, W_out, 2] grids",
               node.label());
    int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    int64_t Ho = grid.shape()[1], Wo = grid.shape()[2];
    Tensor xd = x.cast(DType::F64), gd = grid.cast(DType::F64);
    const double *xp = xd.data<double>(), *gp = gd.data<double>();
    Tensor out(DType::F64, {N, C, Ho, Wo});
    double* op = out.data<double>();
    auto unnorm = [&](double g, int64_t size) {
      return align_ ? (g + 1) / 2 * (size - 1) : ((g + 1) * size - 1) / 2;
    };
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < Ho; ++h)
        for (int64_t w = 0; w < Wo; ++w) {
          const double* g = gp + ((n * Ho + h) * Wo + w) * 2;
          double ix = unnorm(g[0], W), iy = unnorm(g[1], H);
          for (int64_t c = 0; c < C; ++c) {
            const double* plane = xp + (n * C + c) * H * W;
            auto at = [&](int64_t yy, int64_t xx) {
              return (yy >= 0 && yy < H && xx >= 0 && xx < W) ? plane[yy * W + xx] : 0.0;
            };
            double v = 0;
            if (mode_ == Interp::Cubic) {
              // 4x4 taps around floor(ix, iy); each tap's integer position goes through the padding.
              double fx = std::floor(ix), fy = std::floor(iy), tx = ix - fx, ty = iy - fy;
              auto coeffs = [](double t, double* c4) {
                const double A = -0.75;
                auto near = [A](double d) { return ((A + 2) * d - (A + 3)) * d * d + 1; };
                auto far = [A](double d) { return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; };
                c4[0] = far(t + 1);
                c4[1] = near(t);
                c4[2] = near(1 - t);
                c4[3] = far(2 - t);
              };
              double cx[4], cy[4];
              coeffs(tx, cx);
              coeffs(ty, cy);
              for (int j = 0; j < 4; ++j)
                for (int i = 0; i < 4; ++i) {
                  double px = fx - 1 + i, py = fy - 1 + j;
                  if (pad_ != Padding::Zeros) {
                    px = pad_coord(px, W);
                    py = pad_coord(py, H);
                  }
                  v += cx[i] * cy[j] * at((int64_t)py, (int64_t)px);
                }
            } else {
              double px = pad_coord(ix, W), py = pad_coord(iy, H);
              if (mode_ == Interp::Nearest) {
                v = at((int64_t)std::nearbyint(py), (int64_t)std::nearbyint(px));
              } else {
                double x0 = std::floor(px), y0 = std::floor(py), lx = px - x0, ly = py - y0;
                int64_t xi = (int64_t)x0, yi = (int64_t)y0;
                v = at(yi, xi) * (1 - lx) * (1 - ly) + at(yi, xi + 1) * lx * (1 - ly) +
                    at(yi + 1, xi) * (1 - lx) * ly + at(yi + 1, xi + 1) * lx * ly;
              }
            }
            op[((n * C + c) * Ho + h) * Wo + w] = v;
          }
        }
    ctx.set_output(0, out.cast(x.dtype()));
  }

 private:
  Interp mode_ = Interp::Linear;
  Padding pad_ = Padding::Zeros;
  bool align_ = false;
};

}  // namespace

KILN_REGISTER_KERNELS(register_grid_sample_kernels) {
  r.add({DeviceType::Cpu, "", "GridSample", 16, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<GridSampleKernel>(info); });
}

}  // namespace kiln::cpu
