// Pad: constant, reflect, edge, wrap; pads as attribute before opset 11, as input from 11, axes input
// from 18.
#include <algorithm>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class PadKernel : public OpKernel {
 public:
  explicit PadKernel(const KernelInfo& info) : opset_(info.opset) {
    mode_ = info.node.attr_string("mode", "constant");
    KILN_CHECK(mode_ == "constant" || mode_ == "reflect" || mode_ == "edge" || mode_ == "wrap", BadModel,
               "{}: unknown mode '{}' (constant, reflect, edge or wrap)", info.node.label(), mode_);
    if (opset_ < 11) {
      pads_ = info.node.attr_ints(opset_ < 2 ? "paddings" : "pads");
      value_ = info.node.attr_float("value", 0.f);
    }
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    int r = x.rank();
    std::vector<int64_t> pads = pads_;
    if (opset_ >= 11) pads = read_ints(ctx.input(1), node, "pads");
    std::vector<int64_t> axes;
    if (ctx.has_input(3)) axes = read_ints(ctx.input(3), node, "axes");
    if (axes.empty())
      for (int i = 0; i < r; ++i) axes.push_back(i);
    size_t na = axes.size();
    KILN_CHECK(pads.size() == 2 * na, BadInput, "{}: pads has {} entries, expected {}", node.label(), pads.size(),
               2 * na);
    std::vector<int64_t> before(r, 0), after(r, 0);
    for (size_t i = 0; i < na; ++i) {
      int a = normalize_axis(axes[i], r, node);
      before[a] = pads[i];
      after[a] = pads[i + na];
    }
    // The fill value: a scalar of x's type.
    Tensor fill(x.dtype(), {});
    if (opset_ >= 11 && ctx.has_input(2) && ctx.input(2).numel() > 0) {
      const Tensor& v = ctx.input(2);
      KILN_CHECK(v.dtype() == x.dtype(), BadInput, "{}: constant_value is {} but data is {}", node.label(),
                 dtype_name(v.dtype()), dtype_name(x.dtype()));
      copy_elements(fill, 0, v, 0, 1);
    } else if (x.dtype() == DType::String) {
      // empty string
    } else {
      fill = Tensor::scalar<double>(opset_ < 11 ? value_ : 0.0).cast(x.dtype());
    }
    auto strides = contiguous_strides(x.shape());
    Shape out(r);
    std::vector<std::vector<int64_t>> tables(r);
    for (int d = 0; d < r; ++d) {
      int64_t dim = x.shape()[d];
      out[d] = dim + before[d] + after[d];
      KILN_CHECK(out[d] >= 0, BadInput, "{}: pads remove more than axis {} holds", node.label(), d);
      tables[d].resize(out[d]);
      for (int64_t i = 0; i < out[d]; ++i) {
        int64_t s = i - before[d];
        if (s < 0 || s >= dim) {
          if (mode_ == "constant") {
            s = -1;
          } else {
            KILN_CHECK(dim > 0, BadInput, "{}: mode {} cannot pad an empty axis {}", node.label(), mode_, d);
            if (mode_ == "edge") {
              s = std::clamp<int64_t>(s, 0, dim - 1);
            } else if (mode_ == "wrap") {
              s = ((s % dim) + dim) % dim;
            } else {  // reflect: mirror without repeating the edge
              if (dim == 1) {
                s = 0;
              } else {
                int64_t period = 2 * (dim - 1);
                s = ((s % period) + period) % period;
                if (s >= dim) s = period - s;
              }
            }
          }
        }
        tables[d][i] = s < 0 ? -1 : s * strides[d];
      }
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    gather_copy(x, y, tables, &fill);
  }

 private:
  int64_t opset_;
  std::string mode_;
  std::vector<int64_t> pads_;
  float value_ = 0;
};

}  // namespace

KILN_REGISTER_KERNELS(register_pad_kernels) {
  r.add({DeviceType::Cpu, "", "Pad", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<PadKernel>(info); });
}

}  // namespace kiln::cpu
