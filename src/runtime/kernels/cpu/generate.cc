// Ops that make new tensors from a few numbers: Range, ConstantOfShape, EyeLike, OneHot, Trilu,
// CumSum, NonZero.
#include <cmath>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

void range_compute(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor &s = ctx.input(0), &l = ctx.input(1), &d = ctx.input(2);
  KILN_CHECK(s.numel() == 1 && l.numel() == 1 && d.numel() == 1, BadInput, "{}: start, limit and delta must be scalars",
             node.label());
  KILN_CHECK(s.dtype() == l.dtype() && s.dtype() == d.dtype(), BadInput, "{}: start, limit and delta must share a type",
             node.label());
  dispatch_numeric(s.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw BadInput(fmt::format("{}: Range does not take bool", node.label()));
    } else {
      T start = s.data<T>()[0], limit = l.data<T>()[0], delta = d.data<T>()[0];
      KILN_CHECK((double)delta != 0, BadInput, "{}: delta must not be 0", node.label());
      double cnt = std::ceil(((double)limit - (double)start) / (double)delta);
      // 2^62 elements is past any limit; the check keeps the conversion to int64 defined.
      KILN_CHECK(!(cnt >= 0x1p62), BadInput, "{}: a range from {} to {} by {} has {} elements, more than can be held",
                 node.label(), (double)start, (double)limit, (double)delta, cnt);
      int64_t n = cnt > 0 ? (int64_t)cnt : 0;  // NaN (from infinities) gives 0 elements
      Tensor& y = ctx.allocate_output(0, s.dtype(), {n});
      T* p = y.data<T>();
      // Each element is start + i*delta computed in T (as the spec's loop accumulates in T).
      T v = start;
      for (int64_t i = 0; i < n; ++i) {
        p[i] = v;
        v = T((double)v + (double)delta);
      }
    }
  });
}

class ConstantOfShapeKernel : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(const KernelInfo& info) {
    if (const Attribute* a = info.node.attr("value")) {
      KILN_CHECK(a->t.numel() == 1, BadModel, "{}: value must hold one element", info.node.label());
      value_ = a->t.reshape({});
    } else {
      value_ = Tensor::scalar<float>(0.f);
    }
  }
  void compute(KernelContext& ctx) override {
    std::vector<int64_t> dims = read_ints(ctx.input(0), ctx.node(), "shape");
    for (int64_t d : dims) KILN_CHECK(d >= 0, BadInput, "{}: shape has a negative entry", ctx.node().label());
    Tensor& y = ctx.allocate_output(0, value_.dtype(), Shape(dims.begin(), dims.end()));
    fill_elements(y, 0, value_, 0, y.numel());
  }

 private:
  Tensor value_;
};


// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes.
class TriluKernel : public OpKernel {
 public:
  explicit TriluKernel(const KernelInfo& info) : upper_(info.node.attr_int("upper", 1) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() >= 2, BadInput, "{}: input must have rank >= 2, has shape {}", ctx.node().label(),
               shape_str(x.shape()));
    int64_t k = ctx.has_input(1) ? ctx.input(1).item_i64(0) : 0;
    int64_t rows = x.dim(-2), cols = x.dim(-1), mats = x.numel() / std::max<int64_t>(rows * cols, 1);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    Tensor zero = x.dtype() == DType::String ? Tensor(DType::String, {}) : Tensor::scalar<double>(0).cast(x.dtype());
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i) {
        int64_t base = (m * rows + i) * cols;
        for (int64_t j = 0; j < cols; ++j) {
          bool keep = upper_ ? j - i >= k : j - i <= k;
          if (keep) copy_elements(y, base + j, x, base + j, 1);
          else copy_elements(y, base + j, zero, 0, 1);
        }
      }
  }

 private:
  bool upper_;
};

// CumSum along an axis given as an input; exclusive and reverse attributes.
class CumSumKernel : public OpKernel {
 public:
  explicit CumSumKernel(const KernelInfo& info)
      : exclusive_(info.node.attr_int("exclusive", 0) != 0), reverse_(info.node.attr_int("reverse", 0) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int axis = normalize_axis(ctx.input(1).item_i64(0), x.rank(), ctx.node());
    int64_t n = x.rank() ? x.shape()[axis] : 1, outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: CumSum does not take bool", ctx.node().label()));
      } else {
        using Acc = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;
        const T* xp = x.data<T>();
        T* yp = y.data<T>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            Acc acc = Acc(0);
            for (int64_t t = 0; t < n; ++t) {
              int64_t s = reverse_ ? n - 1 - t : t;
              int64_t off = (o * n + s) * inner + i;
              if (exclusive_) {
                yp[off] = T(acc);
                acc = Acc(acc + Acc(xp[off]));
              } else {
                acc = Acc(acc + Acc(xp[off]));
                yp[off] = T(acc);
              }
            }
          }
      }
    });
  }

 private:
  bool exclusive_, reverse_;
};

// OneHot: indices, depth, values [off, on]; a new axis of size depth.
class OneHotKernel : public OpKernel {
 public:
  explicit OneHotKernel(const KernelInfo& info) : axis_(info.node.attr_int("axis", -1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& ind = ctx.input(0);
    int64_t depth = (int64_t)ctx.input(1).item_f64(0);
    const Tensor& values = ctx.input(2);
    KILN_CHECK(values.numel() == 2, BadInput, "{}: values must hold [off, on]", node.label());
    KILN_CHECK(depth > 0, BadInput, "{}: depth must be positive, is {}", node.label(), depth);
    int r = ind.rank() + 1;
    int64_t a = axis_ < 0 ? axis_ + r : axis_;
    KILN_CHECK(a >= 0 && a < r, BadModel, "{}: axis {} is out of range", node.label(), axis_);
    Shape out = ind.shape();
    out.insert(out.begin() + a, depth);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a; ++d) outer *= ind.shape()[d];
    for (int d = (int)a; d < ind.rank(); ++d) inner *= ind.shape()[d];
    Tensor& y = ctx.allocate_output(0, values.dtype(), out);
    fill_elements(y, 0, values, 0, y.numel());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = (int64_t)ind.item_f64(o * inner + i);
        if (v < 0) v += depth;
        if (v < 0 || v >= depth) continue;
        copy_elements(y, (o * depth + v) * inner + i, values, 1, 1);
      }
  }

 private:
  int64_t axis_;
};

// EyeLike: ones on the k-th diagonal of a 2-D shape.
class EyeLikeKernel : public OpKernel {
 public:
  explicit EyeLikeKernel(const KernelInfo& info)
      : k_(info.node.attr_int("k", 0)), dtype_((DType)info.node.attr_int("dtype", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() == 2, BadInput, "{}: input must be 2-D, has shape {}", ctx.node().label(),
               shape_str(x.shape()));
    DType dt = dtype_ == DType::Undefined ? x.dtype() : dtype_;
    Tensor& y = ctx.allocate_output(0, dt, x.shape());
    Tensor zero = Tensor::scalar<double>(0).cast(dt), one = Tensor::scalar<double>(1).cast(dt);
    fill_elements(y, 0, zero, 0, y.numel());
    for (int64_t i = 0; i < x.shape()[0]; ++i) {
      int64_t j = i + k_;
      if (j >= 0 && j < x.shape()[1]) copy_elements(y, i * x.shape()[1] + j, one, 0, 1);
    }
  }

 private:
  int64_t k_;
  DType dtype_;
};

// NonZero: coordinates of the non-zero elements, [rank, count], in row-major order.
void nonzero_compute(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> hits;
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i)
      if ((double)p[i] != 0) hits.push_back(i);
  });
  int r = x.rank();
  int64_t n = (int64_t)hits.size();
  Tensor& y = ctx.allocate_output(0, DType::I64, {std::max(r, 1), n});
  int64_t* yp = y.data<int64_t>();
  auto st = contiguous_strides(x.shape());
  for (int64_t k = 0; k < n; ++k) {
    if (r == 0) yp[k] = 0;
    for (int d = 0; d < r; ++d) yp[d * n + k] = (hits[k] / st[d]) % x.shape()[d];
  }
  if (r == 0) ctx.set_output(0, y.reshape({1, n}));
}

}  // namespace

KILN_REGISTER_KERNELS(register_generate_kernels) {
  r.add_fn("", "Range", 11, kMaxOpset, range_compute);
  r.add({DeviceType::Cpu, "", "ConstantOfShape", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConstantOfShapeKernel>(info); });
  r.add({DeviceType::Cpu, "", "Trilu", 14, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<TriluKernel>(info); });
  r.add({DeviceType::Cpu, "", "CumSum", 11, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<CumSumKernel>(info); });
  r.add({DeviceType::Cpu, "", "OneHot", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<OneHotKernel>(info); });
  r.add({DeviceType::Cpu, "", "EyeLike", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<EyeLikeKernel>(info); });
  r.add_fn("", "NonZero", 9, kMaxOpset, nonzero_compute);
}

}  // namespace kiln::cpu
