// ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare and ArgMax/ArgMin.
// `axes` is an attribute up to opset 12 (ReduceSum) / 17 (the others) and an optional input from
// opset 13 / 18 on, where noop_with_empty_axes=1 makes an empty axes list return the input.
// Floats accumulate in double.
#include <cmath>
#include <limits>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Red { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

template <typename A>
A red_init(Red op) {
  if (op == Red::Prod) return A(1);
  if (op == Red::Max) return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                                  : std::numeric_limits<A>::lowest();
  if (op == Red::Min) return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity()
                                                                  : std::numeric_limits<A>::max();
  return A(0);
}

template <typename A>
inline A red_pre(Red op, A v) {
  switch (op) {
    case Red::L1:
      if constexpr (std::is_unsigned_v<A>) return v;
      else return v < A(0) ? A(0) - v : v;
    case Red::L2:
    case Red::SumSquare: return v * v;
    case Red::LogSumExp: return (A)std::exp((double)v);
    default: return v;
  }
}

template <typename A>
inline A red_combine(Red op, A acc, A v) {
  switch (op) {
    case Red::Prod: return acc * v;
    case Red::Max: return v > acc || v != v ? v : acc;
    case Red::Min: return v < acc || v != v ? v : acc;
    default: return acc + v;
  }
}

template <typename A>
inline A red_post(Red op, A acc, int64_t n) {
  switch (op) {
    case Red::Mean: return n ? (A)(acc / (A)n) : acc;
    case Red::L2: return (A)std::sqrt((double)acc);
    case Red::LogSum:
    case Red::LogSumExp: return (A)std::log((double)acc);
    default: return acc;
  }
}

class ReduceKernel : public OpKernel {
 public:
  ReduceKernel(const KernelInfo& info, Red op, int64_t axes_input_since) : op_(op) {
    const Node& n = info.node;
    keepdims_ = n.attr_int("keepdims", 1) != 0;
    noop_ = n.attr_int("noop_with_empty_axes", 0) != 0;
    axes_from_input_ = info.opset >= axes_input_since;
    if (!axes_from_input_) axes_ = n.attr_ints("axes");
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_) {
      if (const Tensor* t = ctx.input_or_null(1)) axes = t->to_i64_vector();
    }
    const int r = x.rank();
    if (axes.empty() && noop_) {
      ctx.set_output(0, x);
      return;
    }
    std::vector<bool> reduced(r, axes.empty());
    for (int64_t a : axes) reduced[normalize_axis(a, r, node)] = true;
    Shape out_shape, kept_shape;
    for (int d = 0; d < r; ++d) {
      if (reduced[d]) {
        if (keepdims_) out_shape.push_back(1);
      } else {
        out_shape.push_back(x.dim(d));
      }
      kept_shape.push_back(reduced[d] ? 1 : x.dim(d));
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    int64_t count = 1;
    for (int d = 0; d < r; ++d)
      if (reduced[d]) count *= x.dim(d);
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: bool input is not supported", node.label()));
      } else {
        using A = std::conditional_t<is_float_v<T>, double, T>;
        run<T, A>(x, kept_shape, reduced, count, y.data<T>());
      }
    });
  }

 private:
  template <typename T, typename A>
  void run(const Tensor& x, const Shape& kept, const std::vector<bool>& reduced, int64_t count, T* y) const {
    const Red op = op_;
    const T* px = x.data<T>();
    const int64_t out_n = shape_numel(kept);
    // Reduced dims all after the kept ones (ignoring size-1 dims): contiguous blocks.
    bool suffix = true;
    bool seen_reduced = false;
    for (int d = 0; d < x.rank(); ++d) {
      if (x.dim(d) == 1) continue;
      if (reduced[d]) seen_reduced = true;
      else if (seen_reduced) suffix = false;
    }
    if (suffix) {
      parallel_for(out_n, count, [&](long b, long e) {
        for (long o = b; o < e; ++o) {
          const T* row = px + o * count;
          A acc = red_init<A>(op);
          for (int64_t i = 0; i < count; ++i) acc = red_combine(op, acc, red_pre(op, (A)(ComputeT<T>)row[i]));
          y[o] = to_storage<T>((ComputeT<T>)red_post(op, acc, count));
        }
      });
      return;
    }
    // General: walk the input once, accumulating into each element's output slot.
    std::vector<A> acc(out_n, red_init<A>(op));
    auto ostr = broadcast_strides(kept, x.shape());
    const int r = x.rank();
    std::vector<int64_t> idx(r, 0);
    int64_t off = 0;
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) {
      acc[off] = red_combine(op, acc[off], red_pre(op, (A)(ComputeT<T>)px[i]));
      for (int d = r - 1; d >= 0; --d) {
        ++idx[d];
        off += ostr[d];
        if (idx[d] < x.dim(d)) break;
        off -= ostr[d] * x.dim(d);
        idx[d] = 0;
      }
    }
    for (int64_t o = 0; o < out_n; ++o) y[o] = to_storage<T>((ComputeT<T>)red_post(op, acc[o], count));
  }

  Red op_;
  bool keepdims_ = true, noop_ = false, axes_from_input_ = false;
  std::vector<int64_t> axes_;
};

class ArgKernel : public OpKernel {
 public:
  ArgKernel(const KernelInfo& info, bool is_max) : max_(is_max) {
    axis_ = info.node.attr_int("axis", 0);
    keepdims_ = info.node.attr_int("keepdims", 1) != 0;
    last_ = info.node.attr_int("select_last_index", 0) != 0;
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    int axis = normalize_axis(axis_, x.rank(), node);
    int64_t outer = 1, inner = 1, n = x.dim(axis);
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    KILN_CHECK(n > 0, BadInput, "{}: cannot take an arg over an empty axis", node.label());
    Shape os = x.shape();
    if (keepdims_) os[axis] = 1;
    else os.erase(os.begin() + axis);
    Tensor& y = ctx.allocate_output(0, DType::I64, os);
    int64_t* py = y.data<int64_t>();
    bool mx = max_, last = last_;
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      using C = ComputeT<T>;
      const T* px = x.data<T>();
      parallel_for(outer * inner, n, [&](long b, long e) {
        for (long oi = b; oi < e; ++oi) {
          int64_t o = oi / inner, i = oi % inner;
          const T* p = px + o * n * inner + i;
          C best = (C)p[0];
          int64_t bi = 0;
          for (int64_t k = 1; k < n; ++k) {
            C v = (C)p[k * inner];
            bool better = mx ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
            if (better) {
              best = v;
              bi = k;
            }
          }
          py[oi] = bi;
        }
      });
    });
  }

 private:
  bool max_;
  int64_t axis_ = 0;
  bool keepdims_ = true, last_ = false;
};

}  // namespace

KILN_REGISTER_KERNELS(register_reduce_kernels) {
  auto red = [&](const char* op, Red k) {
    int64_t since_input = k == Red::Sum ? 13 : 18;
    r.add({DeviceType::Cpu, "", op, 1, kMaxOpset}, [k, since_input](const KernelInfo& info) {
      return std::make_unique<ReduceKernel>(info, k, since_input);
    });
  };
  red("ReduceSum", Red::Sum);
  red("ReduceMean", Red::Mean);
  red("ReduceMax", Red::Max);
  red("ReduceMin", Red::Min);
  red("ReduceProd", Red::Prod);
  red("ReduceL1", Red::L1);
  red("ReduceL2", Red::L2);
  red("ReduceLogSum", Red::LogSum);
  red("ReduceLogSumExp", Red::LogSumExp);
  red("ReduceSumSquare", Red::SumSquare);
  r.add({DeviceType::Cpu, "", "ArgMax", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ArgKernel>(info, true); });
  r.add({DeviceType::Cpu, "", "ArgMin", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ArgKernel>(info, false); });
}

}  // namespace kiln::cpu
