// Gather, GatherElements, GatherND, ScatterElements (and the older Scatter), ScatterND, Compress.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// An index read from int32/int64 indices, made non-negative against `dim`; BadInput when outside.
int64_t fix_index(int64_t i, int64_t dim, const Node& node) {
  int64_t v = i < 0 ? i + dim : i;
  KILN_CHECK(v >= 0 && v < dim, BadInput, "{}: index {} is out of range for an axis of size {}", node.label(), i, dim);
  return v;
}

std::vector<int64_t> read_indices(const Tensor& t, const Node& node) {
  KILN_CHECK(t.dtype() == DType::I64 || t.dtype() == DType::I32, BadInput, "{}: indices must be int64 or int32, got {}",
             node.label(), dtype_name(t.dtype()));
  return t.to_i64_vector();
}

// The same into `out` (a list the caller reuses across runs, so that its storage is kept).
void read_indices(const Tensor& t, const Node& node, std::vector<int64_t>& out) {
  KILN_CHECK(t.dtype() == DType::I64 || t.dtype() == DType::I32, BadInput, "{}: indices must be int64 or int32, got {}",
             node.label(), dtype_name(t.dtype()));
  out.resize((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.item_i64(i);
}

class GatherKernel : public OpKernel {
 public:
  explicit GatherKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    KILN_CHECK(x.rank() > 0, BadInput, "{}: cannot gather from a scalar", node.label());
    int axis = normalize_axis(axis_, x.rank(), node);
    thread_local std::vector<int64_t> tls_idx;  // this thread's, kept across runs
    std::vector<int64_t>& idx = tls_idx;          // (a reference: lambdas on other threads see this one)
    read_indices(ind, node, idx);
    int64_t dim = x.shape()[axis];
    for (auto& i : idx) i = fix_index(i, dim, node);
    Shape out;
    for (int d = 0; d < axis; ++d) out.push_back(x.shape()[d]);
    for (int64_t d : ind.shape()) out.push_back(d);
    for (int d = axis + 1; d < x.rank(); ++d) out.push_back(x.shape()[d]);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    int64_t n = (int64_t)idx.size();
    if (outer == 1 && n == 1) {  // one contiguous block of x (e.g. a row, or x[:, i] with batch 1): a view
      if (auto v = sub_view(x, out, idx[0] * inner)) {
        ctx.set_output(0, *v);
        return;
      }
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j) copy_elements(y, (o * n + j) * inner, x, (o * dim + idx[j]) * inner, inner);
  }

 private:
  int64_t axis_;
};

// For each position of `shape` calls f(flat position, coordinates).
template <typename F>
void for_each_index(const Shape& shape, F&& f) {
  int64_t n = shape_numel(shape);
  std::vector<int64_t> c(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(i, c);
    for (int d = (int)shape.size() - 1; d >= 0; --d) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

class GatherElementsKernel : public OpKernel {
 public:
  explicit GatherElementsKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    KILN_CHECK(x.rank() == ind.rank() && x.rank() > 0, BadInput, "{}: data {} and indices {} must have the same rank",
               node.label(), shape_str(x.shape()), shape_str(ind.shape()));
    int axis = normalize_axis(axis_, x.rank(), node);
    auto idx = read_indices(ind, node);
    auto st = contiguous_strides(x.shape());
    Tensor& y = ctx.allocate_output(0, x.dtype(), ind.shape());
    for_each_index(ind.shape(), [&](int64_t i, const std::vector<int64_t>& c) {
      int64_t off = 0;
      for (int d = 0; d < x.rank(); ++d)
        off += (d == axis ? fix_index(idx[i], x.shape()[d], node) : c[d]) * st[d];
      copy_elements(y, i, x, off, 1);
    });
  }

 private:
  int64_t axis_;
};

class GatherNDKernel : public OpKernel {
 public:
  explicit GatherNDKernel(const KernelInfo& info) : batch_dims_(info.node.attr_int("batch_dims", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    int b = (int)batch_dims_, q = ind.rank(), r = x.rank();
    KILN_CHECK(q >= 1 && b < q && b < r, BadInput, "{}: indices {} do not fit batch_dims {}", node.label(),
               shape_str(ind.shape()), b);
    int64_t k = ind.shape()[q - 1];
    KILN_CHECK(k >= 1 && b + k <= r, BadInput, "{}: the last indices dimension ({}) is too large for data of rank {}",
               node.label(), k, r);
    auto idx = read_indices(ind, node);
    Shape out(ind.shape().begin(), ind.shape().end() - 1);
    for (int d = b + (int)k; d < r; ++d) out.push_back(x.shape()[d]);
    int64_t batch = 1, inner = 1;
    for (int d = 0; d < b; ++d) batch *= x.shape()[d];
    for (int d = b + (int)k; d < r; ++d) inner *= x.shape()[d];
    int64_t per_batch_data = 1;
    for (int d = b; d < r; ++d) per_batch_data *= x.shape()[d];
    int64_t tuples = (int64_t)idx.size() / k, per_batch_tuples = tuples / std::max<int64_t>(batch, 1);
    auto st = contiguous_strides(x.shape());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t bi = per_batch_tuples ? t / per_batch_tuples : 0;
      int64_t off = bi * per_batch_data;
      for (int64_t j = 0; j < k; ++j) off += fix_index(idx[t * k + j], x.shape()[b + j], node) * st[b + j];
      copy_elements(y, t * inner, x, off, inner);
    }
  }

 private:
  int64_t batch_dims_;
};

int parse_reduction(const Node& node) {
  std::string s = node.attr_string("reduction", "none");
  if (s == "none") return 0;
  if (s == "add") return 1;
  if (s == "mul") return 2;
  if (s == "max") return 3;
  if (s == "min") return 4;
  throw BadModel(fmt::format("{}: unknown reduction '{}' (none, add, mul, max or min)", node.label(), s));
}

// Applies one scatter update: dst[i] (op)= src[j].
struct Combiner {
  int red;
  template <typename T>
  void operator()(T* d, const T* s) const {
    if constexpr (std::is_same_v<T, std::string>) {
      *d = *s;
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      float a = (float)*d, b = (float)*s;
      switch (red) {
        case 1: *d = T(a + b); break;
        case 2: *d = T(a * b); break;
        case 3: *d = a > b ? *d : *s; break;
        case 4: *d = a < b ? *d : *s; break;
        default: *d = *s;
      }
    } else if constexpr (std::is_same_v<T, bool>) {
      switch (red) {
        case 1: case 3: *d = *d || *s; break;
        case 2: case 4: *d = *d && *s; break;
        default: *d = *s;
      }
    } else {
      switch (red) {
        case 1: *d = *d + *s; break;
        case 2: *d = *d * *s; break;
        case 3: *d = *d > *s ? *d : *s; break;
        case 4: *d = *d < *s ? *d : *s; break;
        default: *d = *s;
      }
    }
  }
};

class ScatterElementsKernel : public OpKernel {
 public:
  explicit ScatterElementsKernel(const KernelInfo& info)
      : axis_(info.node.attr_int("axis", 0)), red_(parse_reduction(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const Tensor& upd = ctx.input(2);
    KILN_CHECK(x.rank() == ind.rank() && ind.shape() == upd.shape() && x.dtype() == upd.dtype(), BadInput,
               "{}: data {}, indices {} and updates {} do not fit together", node.label(), shape_str(x.shape()),
               shape_str(ind.shape()), shape_str(upd.shape()));
    int axis = normalize_axis(axis_, x.rank(), node);
    auto idx = read_indices(ind, node);
    auto st = contiguous_strides(x.shape());
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    copy_elements(y, 0, x, 0, x.numel());
    Combiner comb{red_};
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* yd = static_cast<T*>(y.raw());
      const T* ud = static_cast<const T*>(upd.raw());
      for_each_index(ind.shape(), [&](int64_t i, const std::vector<int64_t>& c) {
        int64_t off = 0;
        for (int d = 0; d < x.rank(); ++d)
          off += (d == axis ? fix_index(idx[i], x.shape()[d], node) : c[d]) * st[d];
        comb(yd + off, ud + i);
      });
    });
  }

 private:
  int64_t axis_;
  int red_;
};

class ScatterNDKernel : public OpKernel {
 public:
  explicit ScatterNDKernel(const KernelInfo& info) : red_(parse_reduction(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const Tensor& upd = ctx.input(2);
    int q = ind.rank(), r = x.rank();
    KILN_CHECK(q >= 1, BadInput, "{}: indices must have rank >= 1", node.label());
    int64_t k = ind.shape()[q - 1];
    KILN_CHECK(k <= r && x.dtype() == upd.dtype(), BadInput, "{}: indices {} do not fit data {}", node.label(),
               shape_str(ind.shape()), shape_str(x.shape()));
    auto idx = read_indices(ind, node);
    int64_t inner = 1;
    for (int d = (int)k; d < r; ++d) inner *= x.shape()[d];
    int64_t tuples = k ? (int64_t)idx.size() / k : shape_numel(Shape(ind.shape().begin(), ind.shape().end() - 1));
    KILN_CHECK(upd.numel() == tuples * inner, BadInput, "{}: updates {} do not fit indices {} and data {}",
               node.label(), shape_str(upd.shape()), shape_str(ind.shape()), shape_str(x.shape()));
    auto st = contiguous_strides(x.shape());
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    copy_elements(y, 0, x, 0, x.numel());
    Combiner comb{red_};
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* yd = static_cast<T*>(y.raw());
      const T* ud = static_cast<const T*>(upd.raw());
      for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; ++j) off += fix_index(idx[t * k + j], x.shape()[j], node) * st[j];
        for (int64_t e = 0; e < inner; ++e) comb(yd + off + e, ud + t * inner + e);
      }
    });
  }

 private:
  int red_;
};

// Compress: the slices along `axis` (or the elements of the flattened input) whose condition is true.
class CompressKernel : public OpKernel {
 public:
  explicit CompressKernel(const KernelInfo& info)
      : has_axis_(info.node.has_attr("axis")), axis_(info.node.attr_int("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    const Tensor& cond = ctx.input(1);
    KILN_CHECK(cond.rank() == 1, BadInput, "{}: condition must be 1-D", node.label());
    Tensor x = has_axis_ ? x0 : x0.reshape({x0.numel()});
    int axis = normalize_axis(axis_, x.rank(), node);
    int64_t n = x.shape()[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    KILN_CHECK(cond.numel() <= n, BadInput, "{}: condition has {} entries for an axis of {}", node.label(),
               cond.numel(), n);
    std::vector<int64_t> keep;
    for (int64_t j = 0; j < cond.numel(); ++j)
      if (cond.item_f64(j) != 0) keep.push_back(j);
    Shape out = x.shape();
    out[axis] = (int64_t)keep.size();
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    int64_t k = (int64_t)keep.size();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j) copy_elements(y, (o * k + j) * inner, x, (o * n + keep[j]) * inner, inner);
  }

 private:
  bool has_axis_;
  int64_t axis_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_gather_scatter_kernels) {
  r.add({DeviceType::Cpu, "", "Gather", 1, kMaxOpset}, make<GatherKernel>());
  r.add({DeviceType::Cpu, "", "GatherElements", 11, kMaxOpset}, make<GatherElementsKernel>());
  r.add({DeviceType::Cpu, "", "GatherND", 11, kMaxOpset}, make<GatherNDKernel>());
  r.add({DeviceType::Cpu, "", "Scatter", 9, 10}, make<ScatterElementsKernel>());
  r.add({DeviceType::Cpu, "", "ScatterElements", 11, kMaxOpset}, make<ScatterElementsKernel>());
  r.add({DeviceType::Cpu, "", "ScatterND", 11, kMaxOpset}, make<ScatterNDKernel>());
  r.add({DeviceType::Cpu, "", "Compress", 9, kMaxOpset}, make<CompressKernel>());
}

}  // namespace kiln::cpu
