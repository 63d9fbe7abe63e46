// Slice: attribute form before opset 10, input form with steps from 10.
#include <algorithm>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class SliceKernel : public OpKernel {
 public:
  explicit SliceKernel(const KernelInfo& info) : inputs_form_(info.opset >= 10) {
    if (!inputs_form_) {
      starts_ = info.node.attr_ints("starts");
      ends_ = info.node.attr_ints("ends");
      axes_ = info.node.attr_ints("axes");
    }
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    Shape starts = starts_, ends = ends_, axes = axes_, steps;  // int lists kept inline, as shapes
    if (inputs_form_) {
      starts = read_ints(ctx.input(1), node, "starts");
      ends = read_ints(ctx.input(2), node, "ends");
      if (ctx.has_input(3)) axes = read_ints(ctx.input(3), node, "axes");
      if (ctx.has_input(4)) steps = read_ints(ctx.input(4), node, "steps");
    }
    KILN_CHECK(starts.size() == ends.size(), BadInput, "{}: starts and ends differ in length", node.label());
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back((int64_t)i);
    if (steps.empty()) steps.assign(starts.size(), 1);
    KILN_CHECK(axes.size() == starts.size() && steps.size() == starts.size(), BadInput,
               "{}: starts, ends, axes and steps must have the same length", node.label());
    int r = x.rank();
    Shape out = x.shape();
    Shape start(r, 0), step(r, 1), seen(r, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      int a = normalize_axis(axes[i], r, node);
      KILN_CHECK(!seen[a], BadInput, "{}: axis {} is sliced twice", node.label(), a);
      seen[a] = 1;
      int64_t dim = x.shape()[a], s = starts[i], e = ends[i], st = steps[i];
      KILN_CHECK(st != 0, BadInput, "{}: steps must not be 0", node.label());
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      int64_t n;
      if (st > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        n = e > s ? (e - s + st - 1) / st : 0;
      } else {
        s = std::clamp<int64_t>(s, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        n = s > e ? (s - e + (-st) - 1) / (-st) : 0;
      }
      start[a] = s;
      step[a] = st;
      out[a] = n;
    }
    auto strides = contiguous_strides(x.shape());
    // A contiguous block of x (leading axes of size 1, one axis with step 1, full axes after it)
    // is returned as a view of x's buffer.
    int k = 0;
    while (k < r && out[k] == 1) ++k;
    bool contiguous = k == r || step[k] == 1;
    for (int d = k + 1; d < r && contiguous; ++d) contiguous = start[d] == 0 && out[d] == x.shape()[d] && step[d] == 1;
    if (contiguous) {
      int64_t off = 0;
      for (int d = 0; d < r; ++d) off += start[d] * strides[d];
      if (auto v = sub_view(x, out, off)) {
        ctx.set_output(0, *v);
        return;
      }
    }
    std::vector<std::vector<int64_t>> tables(r);
    for (int d = 0; d < r; ++d) tables[d] = linear_table(out[d], strides[d], start[d], step[d]);
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    gather_copy(x, y, tables);
  }

 private:
  bool inputs_form_;
  Shape starts_, ends_, axes_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_slice_kernels) {
  r.add({DeviceType::Cpu, "", "Slice", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<SliceKernel>(info); });
}

}  // namespace kiln::cpu
