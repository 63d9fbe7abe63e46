// Concat and Split: blocks of `inner` elements moved along one axis.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class ConcatKernel : public OpKernel {
 public:
  explicit ConcatKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", info.opset < 4 ? 1 : 0)) {
    KILN_CHECK(info.opset < 4 || info.node.has_attr("axis"), BadModel, "{}: needs the attribute axis",
               info.node.label());
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    // The inputs present, in order (read through ctx: no list is made).
    size_t first_i = 0;
    while (first_i < ctx.num_inputs() && !ctx.has_input(first_i)) ++first_i;
    KILN_CHECK(first_i < ctx.num_inputs(), BadModel, "{}: needs at least one input", node.label());
    auto for_each_input = [&](auto&& f) {
      for (size_t i = first_i; i < ctx.num_inputs(); ++i)
        if (ctx.has_input(i)) f(&ctx.input(i));
    };
    const Tensor& first = ctx.input(first_i);
    int r = first.rank();
    KILN_CHECK(r > 0, BadInput, "{}: cannot concatenate scalars", node.label());
    int axis = normalize_axis(axis_, r, node);
    Shape out = first.shape();
    out[axis] = 0;
    for_each_input([&](const Tensor* t) {
      KILN_CHECK(t->dtype() == first.dtype(), BadInput, "{}: inputs mix {} and {}", node.label(),
                 dtype_name(first.dtype()), dtype_name(t->dtype()));
      KILN_CHECK(t->rank() == r, BadInput, "{}: inputs have shapes {} and {} of different ranks", node.label(),
                 shape_str(first.shape()), shape_str(t->shape()));
      for (int d = 0; d < r; ++d)
        KILN_CHECK(d == axis || t->shape()[d] == first.shape()[d], BadInput,
                   "{}: shapes {} and {} differ outside axis {}", node.label(), shape_str(first.shape()),
                   shape_str(t->shape()), axis);
      out[axis] += t->shape()[axis];
    });
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= out[d];
    for (int d = axis + 1; d < r; ++d) inner *= out[d];
    Tensor& y = ctx.allocate_output(0, first.dtype(), out);
    int64_t row = out[axis] * inner, off = 0;
    for_each_input([&](const Tensor* t) {
      int64_t block = t->shape()[axis] * inner;
      for (int64_t o = 0; o < outer; ++o) copy_elements(y, o * row + off, *t, o * block, block);
      off += block;
    });
  }

 private:
  int64_t axis_;
};

// Split: sizes from the `split` attribute (< 13), the split input (>= 13), num_outputs (>= 18), or
// equal parts over the outputs.
class SplitKernel : public OpKernel {
 public:
  explicit SplitKernel(const KernelInfo& info)
      : axis_(info.node.attr_int("axis", 0)), num_outputs_(info.node.attr_int("num_outputs", 0)),
        split_input_(info.opset >= 13) {
    if (!split_input_) attr_split_ = info.node.attr_ints("split");
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    int axis = normalize_axis(axis_, x.rank(), node);
    int64_t dim = x.shape()[axis];
    std::vector<int64_t> sizes = attr_split_;
    if (ctx.has_input(1)) sizes = read_ints(ctx.input(1), node, "split");
    size_t n = ctx.num_outputs();
    if (sizes.empty()) {
      if (num_outputs_ > 0) {
        // opset 18: equal chunks of ceil(dim / n), the last one smaller
        int64_t chunk = (dim + num_outputs_ - 1) / num_outputs_;
        for (int64_t i = 0, left = dim; i < num_outputs_; ++i, left -= chunk) sizes.push_back(std::min(chunk, left));
      } else {
        KILN_CHECK(dim % (int64_t)n == 0, BadInput, "{}: axis {} of size {} does not split into {} equal parts",
                   node.label(), axis, dim, n);
        sizes.assign(n, dim / (int64_t)n);
      }
    }
    KILN_CHECK(sizes.size() == n, BadModel, "{}: {} split sizes for {} outputs", node.label(), sizes.size(), n);
    int64_t total = 0;
    for (int64_t s : sizes) {
      KILN_CHECK(s >= 0, BadInput, "{}: split sizes must not be negative", node.label());
      total += s;
    }
    KILN_CHECK(total == dim, BadInput, "{}: split sizes add up to {} but axis {} has size {}", node.label(), total,
               axis, dim);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    int64_t row = dim * inner, off = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t block = sizes[i] * inner;
      if (ctx.output_wanted(i)) {
        Shape s = x.shape();
        s[axis] = sizes[i];
        if (outer == 1) {  // each part is a contiguous block of x: a view, no copy
          if (auto v = sub_view(x, s, off)) {
            ctx.set_output(i, *v);
            off += block;
            continue;
          }
        }
        Tensor& y = ctx.allocate_output(i, x.dtype(), s);
        for (int64_t o = 0; o < outer; ++o) copy_elements(y, o * block, x, o * row + off, block);
      }
      off += block;
    }
  }

 private:
  int64_t axis_, num_outputs_;
  bool split_input_;
  std::vector<int64_t> attr_split_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_concat_split_kernels) {
  r.add({DeviceType::Cpu, "", "Concat", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConcatKernel>(info); });
  r.add({DeviceType::Cpu, "", "Split", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<SplitKernel>(info); });
}

}  // namespace kiln::cpu
