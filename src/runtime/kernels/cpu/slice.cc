// Slice (attribute form before opset 10, input form with steps from 10) and Pad (constant, reflect,
// edge, wrap; pads as attribute before opset 11, as input from 11, axes input from 18), ReverseSequence.
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
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
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
    std::vector<int64_t> start(r, 0), step(r, 1);
    std::vector<bool> seen(r, false);
    for (size_t i = 0; i < axes.size(); ++i) {
      int a = normalize_axis(axes[i], r, node);
      KILN_CHECK(!seen[a], BadInput, "{}: axis {} is sliced twice", node.label(), a);
      seen[a] = true;
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
  std::vector<int64_t> starts_, ends_, axes_;
};

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

// ReverseSequence: for each batch entry b, reverses the first sequence_lens[b] steps along time_axis.
class ReverseSequenceKernel : public OpKernel {
 public:
  explicit ReverseSequenceKernel(const KernelInfo& info)
      : batch_axis_(info.node.attr_int("batch_axis", 1)), time_axis_(info.node.attr_int("time_axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    auto lens = ctx.input(1).to_i64_vector();
    KILN_CHECK(x.rank() >= 2, BadInput, "{}: input must have rank >= 2", node.label());
    int ba = normalize_axis(batch_axis_, x.rank(), node), ta = normalize_axis(time_axis_, x.rank(), node);
    KILN_CHECK(ba != ta && (int64_t)lens.size() == x.shape()[ba], BadInput,
               "{}: sequence_lens must have one entry per batch element", node.label());
    auto st = contiguous_strides(x.shape());
    int r = x.rank();
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    copy_elements(y, 0, x, 0, x.numel());
    // One batch entry at a time: the reversed prefix is a gather over the other axes.
    for (int64_t b = 0; b < x.shape()[ba]; ++b) {
      int64_t len = std::clamp<int64_t>(lens[b], 0, x.shape()[ta]);
      for (int64_t t = 0; t < len; ++t) {
        int64_t src_t = len - 1 - t;
        // copy every element with (batch b, time t) from (batch b, time src_t)
        int64_t outer_n = 1;
        for (int d = 0; d < r; ++d)
          if (d != ba && d != ta) outer_n *= x.shape()[d];
        std::vector<int64_t> c(r, 0);
        for (int64_t i = 0; i < outer_n; ++i) {
          int64_t dst = b * st[ba] + t * st[ta], src = b * st[ba] + src_t * st[ta];
          for (int d = 0; d < r; ++d)
            if (d != ba && d != ta) {
              dst += c[d] * st[d];
              src += c[d] * st[d];
            }
          copy_elements(y, dst, x, src, 1);
          for (int d = r - 1; d >= 0; --d) {
            if (d == ba || d == ta) continue;
            if (++c[d] < x.shape()[d]) break;
            c[d] = 0;
          }
        }
      }
    }
  }

 private:
  int64_t batch_axis_, time_axis_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_slice_kernels) {
  r.add({DeviceType::Cpu, "", "Slice", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<SliceKernel>(info); });
  r.add({DeviceType::Cpu, "", "Pad", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<PadKernel>(info); });
  r.add({DeviceType::Cpu, "", "ReverseSequence", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ReverseSequenceKernel>(info); });
}

}  // namespace kiln::cpu
