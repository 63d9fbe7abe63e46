// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile, Transpose.
// Reshape/Flatten/Squeeze/Unsqueeze share the input's buffer (no copy).
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// ---- Shape (opset 15 adds start/end) and Size ----
class ShapeKernel : public OpKernel {
 public:
  explicit ShapeKernel(const KernelInfo& info)
      : start_(info.node.attr_int("start", 0)), end_(info.node.attr_int("end", INT64_MAX)),
        has_end_(info.node.has_attr("end")) {}
  void compute(KernelContext& ctx) override {
    const Shape& s = ctx.input(0).shape();
    int64_t r = (int64_t)s.size();
    auto clampi = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, (int64_t)0, r); };
    int64_t b = clampi(start_), e = has_end_ ? clampi(end_) : r;
    Shape out;
    for (int64_t i = b; i < e; ++i) out.push_back(s[i]);
    ctx.set_output(0, Tensor::from_vector<int64_t>({(int64_t)out.size()}, out));
  }

 private:
  int64_t start_, end_;
  bool has_end_;
};

// ---- Reshape: opset 1-4 shape attribute, 5+ shape input, 14+ allowzero ----
Shape reshape_target(const Shape& in, const std::vector<int64_t>& want, bool allowzero, const Node& node) {
  Shape out(want.begin(), want.end());
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

class ReshapeKernel : public OpKernel {
 public:
  explicit ReshapeKernel(const KernelInfo& info) : allowzero_(info.node.attr_int("allowzero", 0) != 0) {
    if (info.opset < 5) attr_shape_ = info.node.attr_ints("shape");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> want = ctx.has_input(1) ? read_ints(ctx.input(1), ctx.node(), "shape") : attr_shape_;
    ctx.set_output(0, x.reshape(reshape_target(x.shape(), want, allowzero_, ctx.node())));
  }

 private:
  bool allowzero_;
  std::vector<int64_t> attr_shape_;
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
    std::vector<int64_t> axes = axes_;
    if (from_input_ && ctx.has_input(1)) axes = read_ints(ctx.input(1), ctx.node(), "axes");
    int r = x.rank();
    std::vector<bool> drop(r, false);
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
  std::vector<int64_t> axes_;
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
    std::vector<int64_t> axes = from_input_ ? read_ints(ctx.input(1), ctx.node(), "axes") : axes_;
    int r = x.rank() + (int)axes.size();
    std::vector<bool> added(r, false);
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
  std::vector<int64_t> axes_;
};

// ---- Expand ----
void expand_compute(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> want = read_ints(ctx.input(1), ctx.node(), "shape");
  Shape out = broadcast_shapes({x.shape(), Shape(want.begin(), want.end())}, ctx.node());
  if (out == x.shape()) {
    ctx.set_output(0, x);
    return;
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);  // first: the size checks come before any table
  auto st = broadcast_strides(x.shape(), out);
  std::vector<std::vector<int64_t>> tables;
  for (size_t d = 0; d < out.size(); ++d) tables.push_back(linear_table(out[d], st[d]));
  gather_copy(x, y, tables);
}

// ---- Tile: output dim d reads input index i % in[d] ----
void tile_compute(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> reps = read_ints(ctx.input(1), ctx.node(), "repeats");
  KILN_CHECK((int)reps.size() == x.rank(), BadInput, "{}: repeats has {} entries for an input of rank {}",
             ctx.node().label(), reps.size(), x.rank());
  Shape out(x.rank());
  auto st = contiguous_strides(x.shape());
  std::vector<std::vector<int64_t>> tables(x.rank());
  for (int d = 0; d < x.rank(); ++d) {
    KILN_CHECK(reps[d] >= 0, BadInput, "{}: repeats must not be negative", ctx.node().label());
    KILN_CHECK(!__builtin_mul_overflow(x.shape()[d], reps[d], &out[d]), BadModel,
               "{}: dimension {} of {} times {} repeats does not fit in 64 bits", ctx.node().label(), d,
               shape_str(x.shape()), reps[d]);
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), out);  // first: the size checks come before any table
  for (int d = 0; d < x.rank(); ++d) {
    tables[d].resize(out[d]);
    for (int64_t i = 0; i < out[d]; ++i) tables[d][i] = (i % x.shape()[d]) * st[d];
  }
  gather_copy(x, y, tables);
}

// ---- Transpose ----
class TransposeKernel : public OpKernel {
 public:
  explicit TransposeKernel(const KernelInfo& info) : perm_(info.node.attr_ints("perm")) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int r = x.rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      perm.resize(r);
      for (int i = 0; i < r; ++i) perm[i] = r - 1 - i;
    }
    KILN_CHECK((int)perm.size() == r, BadInput, "{}: perm has {} entries for an input of rank {}", ctx.node().label(),
               perm.size(), r);
    std::vector<bool> seen(r, false);
    auto st = contiguous_strides(x.shape());
    Shape out(r);
    std::vector<std::vector<int64_t>> tables(r);
    bool identity = true;
    for (int d = 0; d < r; ++d) {
      int p = normalize_axis(perm[d], r, ctx.node());
      KILN_CHECK(!seen[p], BadModel, "{}: perm {} is not a permutation", ctx.node().label(), shape_str(perm));
      seen[p] = true;
      out[d] = x.shape()[p];
      tables[d] = linear_table(out[d], st[p]);
      if (p != d) identity = false;
    }
    if (identity) {
      ctx.set_output(0, x);
      return;
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    std::vector<int> p(r);
    for (int d = 0; d < r; ++d) p[d] = normalize_axis(perm[d], r, ctx.node());
    if (!transpose_tiled(x, p, y)) gather_copy(x, y, tables);
  }

 private:
  std::vector<int64_t> perm_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_shape_kernels) {
  r.add({DeviceType::Cpu, "", "Shape", 1, kMaxOpset}, make<ShapeKernel>());
  r.add_fn("", "Size", 1, kMaxOpset, [](KernelContext& ctx) {
    ctx.set_output(0, Tensor::scalar<int64_t>(ctx.input(0).numel()));
  });
  r.add({DeviceType::Cpu, "", "Reshape", 1, kMaxOpset}, make<ReshapeKernel>());
  r.add({DeviceType::Cpu, "", "Flatten", 1, kMaxOpset}, make<FlattenKernel>());
  r.add({DeviceType::Cpu, "", "Squeeze", 1, kMaxOpset}, make<SqueezeKernel>());
  r.add({DeviceType::Cpu, "", "Unsqueeze", 1, kMaxOpset}, make<UnsqueezeKernel>());
  r.add_fn("", "Expand", 8, kMaxOpset, expand_compute);
  r.add_fn("", "Tile", 6, kMaxOpset, tile_compute);
  r.add({DeviceType::Cpu, "", "Transpose", 1, kMaxOpset}, make<TransposeKernel>());
}

}  // namespace kiln::cpu
