// Reshape, Flatten, Squeeze, Unsqueeze: a new shape over the same elements; the output shares the
// input's buffer (no copy).
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {

// ---- Reshape: opset 1-4 shape attribute, 5+ shape input, 14+ allowzero ----
Shape reshape_target(const Shape& in, const Shape& want, bool allowzero, const Node& node) {
  Shape out = want;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      KILN_CHECK(i < in.size(), BadInput, "{}: shape entry {} is 0 (copy) but the input has rank {}", node.label(), i,
                 in.size());
      out[i] = in[i];
    }
    if (out[i] == -1) {
      KILN_CHECK(infer < 0, BadInput, "{}: shape {} has more than one -1", node.label(), shape_str(want));
      infer = (int)i;
      continue;
    }
    KILN_CHECK(out[i] >= 0, BadInput, "{}: shape {} has a negative entry", node.label(), shape_str(want));
    KILN_CHECK(!__builtin_mul_overflow(known, out[i], &known), BadModel,
               "{}: shape {} has more elements than a 64-bit count holds", node.label(), shape_str(want));
  }
  int64_t n = shape_numel(in);
  if (infer >= 0) {
    KILN_CHECK(known != 0 && n % known == 0, BadInput, "{}: cannot reshape {} to {}", node.label(), shape_str(in),
               shape_str(want));
    out[infer] = n / known;
  }
  KILN_CHECK(shape_numel(out) == n, BadInput, "{}: cannot reshape {} ({} elements) to {}", node.label(), shape_str(in),
             n, shape_str(want));
  return out;
}

namespace {

class ReshapeKernel : public OpKernel {
 public:
  explicit ReshapeKernel(const KernelInfo& info) : allowzero_(info.node.attr_int("allowzero", 0) != 0) {
    if (info.opset < 5) attr_shape_ = info.node.attr_ints("shape");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Shape want = ctx.has_input(1) ? read_ints(ctx.input(1), ctx.node(), "shape") : attr_shape_;
    ctx.set_output(0, x.reshape(reshape_target(x.shape(), want, allowzero_, ctx.node())));
  }

 private:
  bool allowzero_;
  Shape attr_shape_;
};

// ---- Flatten ----
class FlattenKernel : public OpKernel {
 public:
  explicit FlattenKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", 1)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int r = x.rank();
    int64_t a = axis_ < 0 ? axis_ + r : axis_;
    KILN_CHECK(a >= 0 && a <= r, BadModel, "{}: axis {} is out of range for rank {}", ctx.node().label(), axis_, r);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; ++i) (i < a ? outer : inner) *= x.shape()[i];
    ctx.set_output(0, x.reshape({outer, inner}));
  }

 private:
  int64_t axis_;
};

// ---- Squeeze / Unsqueeze: axes attribute before opset 13, input from 13 ----
class SqueezeKernel : public OpKernel {
 public:
  explicit SqueezeKernel(const KernelInfo& info) : from_input_(info.opset >= 13) {
    if (!from_input_ && info.node.has_attr("axes")) axes_ = info.node.attr_ints("axes");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Shape axes = axes_;
    if (from_input_ && ctx.has_input(1)) axes = read_ints(ctx.input(1), ctx.node(), "axes");
    int r = x.rank();
    Shape drop(r, 0);  // 1: dimension dropped
    if (axes.empty()) {  // no axes: drop every dimension of size 1
      for (int i = 0; i < r; ++i) drop[i] = x.shape()[i] == 1;
    } else {
      for (int64_t a : axes) {
        int n = normalize_axis(a, r, ctx.node());
        KILN_CHECK(x.shape()[n] == 1, BadInput, "{}: cannot squeeze axis {} of shape {} (size is not 1)",
                   ctx.node().label(), a, shape_str(x.shape()));
        drop[n] = true;
      }
    }
    Shape out;
    for (int i = 0; i < r; ++i)
      if (!drop[i]) out.push_back(x.shape()[i]);
    ctx.set_output(0, x.reshape(out));
  }

 private:
  bool from_input_;
  Shape axes_;
};

class UnsqueezeKernel : public OpKernel {
 public:
  explicit UnsqueezeKernel(const KernelInfo& info) : from_input_(info.opset >= 13) {
    if (!from_input_) {
      KILN_CHECK(info.node.has_attr("axes"), BadModel, "{}: needs the attribute axes", info.node.label());
      axes_ = info.node.attr_ints("axes");
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Shape axes = from_input_ ? read_ints(ctx.input(1), ctx.node(), "axes") : axes_;
    int r = x.rank() + (int)axes.size();
    Shape added(r, 0);  // 1: dimension added
    for (int64_t a : axes) {
      int n = normalize_axis(a, r, ctx.node());
      KILN_CHECK(!added[n], BadModel, "{}: axis {} is listed twice", ctx.node().label(), a);
      added[n] = true;
    }
    Shape out;
    size_t k = 0;
    for (int i = 0; i < r; ++i) out.push_back(added[i] ? 1 : x.shape()[k++]);
    ctx.set_output(0, x.reshape(out));
  }

 private:
  bool from_input_;
  Shape axes_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_reshape_kernels) {
  r.add({DeviceType::Cpu, "", "Reshape", 1, kMaxOpset}, make<ReshapeKernel>());
  r.add({DeviceType::Cpu, "", "Flatten", 1, kMaxOpset}, make<FlattenKernel>());
  r.add({DeviceType::Cpu, "", "Squeeze", 1, kMaxOpset}, make<SqueezeKernel>());
  r.add({DeviceType::Cpu, "", "Unsqueeze", 1, kMaxOpset}, make<UnsqueezeKernel>());
}

}  // namespace kiln::cpu
