// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) -> bool, logic on bools
// (And, Or, Xor, Not) and Where(cond, X, Y), all with numpy broadcasting.
#include <cstring>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Cmp { Eq, Lt, Gt, Le, Ge };

// B's shape as opset < 7 broadcast saw it: with broadcast=1 and `axis`, B aligns to A at axis.
Shape legacy_b_shape(const Node& node, const Shape& a, const Shape& b) {
  if (!node.attr_int("broadcast", 0) || !node.has_attr("axis")) return b;
  int axis = normalize_axis(node.attr_int("axis", 0), (int)a.size(), node);
  Shape s = b;
  while ((int)s.size() < (int)a.size() - axis) s.push_back(1);
  return s;
}

class CompareKernel : public OpKernel {
 public:
  CompareKernel(const KernelInfo& info, Cmp op) : op_(op), legacy_(info.opset < 7) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    KILN_CHECK(a.dtype() == b.dtype(), BadInput, "{}: inputs have different types {} and {}", node.label(),
               dtype_name(a.dtype()), dtype_name(b.dtype()));
    const Shape bs = legacy_ ? legacy_b_shape(node, a.shape(), b.shape()) : b.shape();
    Shape os = broadcast_shapes({a.shape(), bs}, node);
    Tensor& o = ctx.allocate_output(0, DType::Bool, os);
    bool* po = o.data<bool>();
    if (a.dtype() == DType::String) {
      KILN_CHECK(op_ == Cmp::Eq, Unsupported, "{}: strings can only be compared with Equal", node.label());
      const std::string* pa = a.data<std::string>();
      const std::string* pb = b.data<std::string>();
      BroadcastLayout L({a.shape(), bs}, os);
      for_each_row(L, 4, [&](int64_t begin, int64_t n, const int64_t* offs) {
        for (int64_t i = 0; i < n; ++i) po[begin + i] = pa[offs[0] + i * L.steps[0]] == pb[offs[1] + i * L.steps[1]];
      });
      return;
    }
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      using C = ComputeT<T>;
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      switch (op_) {
        case Cmp::Eq: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return x == y; }); break;
        case Cmp::Lt: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return x < y; }); break;
        case Cmp::Gt: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return x > y; }); break;
        case Cmp::Le: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return x <= y; }); break;
        case Cmp::Ge: binary_map<C>(pa, a.shape(), pb, bs, po, os, [](C x, C y) { return x >= y; }); break;
      }
    });
  }

 private:
  Cmp op_;
  bool legacy_;
};

enum class Logic { And, Or, Xor };

void logic(KernelContext& ctx, Logic op) {
  const Node& node = ctx.node();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  KILN_CHECK(a.dtype() == DType::Bool && b.dtype() == DType::Bool, BadInput, "{}: inputs must be bool, not {} and {}",
             node.label(), dtype_name(a.dtype()), dtype_name(b.dtype()));
  // opset < 7 could align B at `axis` (legacy broadcast).
  Shape bs = legacy_b_shape(node, a.shape(), b.shape());
  Shape os = broadcast_shapes({a.shape(), bs}, node);
  Tensor& o = ctx.allocate_output(0, DType::Bool, os);
  // bools are 0/1 bytes: compute on uint8 so the loops vectorise.
  const uint8_t* pa = static_cast<const uint8_t*>(a.raw());
  const uint8_t* pb = static_cast<const uint8_t*>(b.raw());
  uint8_t* po = static_cast<uint8_t*>(o.raw());
  using U = uint8_t;
  switch (op) {
    case Logic::And: binary_map<U>(pa, a.shape(), pb, bs, po, os, [](U x, U y) { return (U)(x & y); }); break;
    case Logic::Or: binary_map<U>(pa, a.shape(), pb, bs, po, os, [](U x, U y) { return (U)(x | y); }); break;
    case Logic::Xor: binary_map<U>(pa, a.shape(), pb, bs, po, os, [](U x, U y) { return (U)(x ^ y); }); break;
  }
}

void logic_not(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.dtype() == DType::Bool, BadInput, "{}: input must be bool, not {}", ctx.node().label(),
             dtype_name(x.dtype()));
  Tensor& y = ctx.allocate_output(0, DType::Bool, x.shape());
  unary_map(static_cast<const uint8_t*>(x.raw()), static_cast<uint8_t*>(y.raw()), x.numel(),
            [](uint8_t v) { return (uint8_t)(v ^ 1); });
}

template <typename T>
void where_copy(const bool* c, const T* x, const T* y, T* o, const BroadcastLayout& L) {
  for_each_row(L, 1, [&](int64_t begin, int64_t n, const int64_t* offs) {
    const bool* pc = c + offs[0];
    const T* px = x + offs[1];
    const T* py = y + offs[2];
    T* po = o + begin;
    int64_t sc = L.steps[0], sx = L.steps[1], sy = L.steps[2];
    if (sc && sx && sy) {
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
    } else if (sc && !sx && sy) {  // masked_fill: Where(mask, scalar, X)
      T xv = px[0];
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? xv : py[i];
    } else if (sc && sx && !sy) {
      T yv = py[0];
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : yv;
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i * sc] ? px[i * sx] : py[i * sy];
    }
  });
}

void where(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  KILN_CHECK(c.dtype() == DType::Bool, BadInput, "{}: condition must be bool, not {}", node.label(),
             dtype_name(c.dtype()));
  KILN_CHECK(x.dtype() == y.dtype(), BadInput, "{}: X and Y have different types {} and {}", node.label(),
             dtype_name(x.dtype()), dtype_name(y.dtype()));
  Shape os = broadcast_shapes({c.shape(), x.shape(), y.shape()}, node);
  Tensor& o = ctx.allocate_output(0, x.dtype(), os);
  if (o.numel() == 0) return;
  BroadcastLayout L({c.shape(), x.shape(), y.shape()}, os);
  const bool* pc = c.data<bool>();
  // Select by element size so one instantiation serves every type of that width.
  switch (x.dtype() == DType::String ? 0 : dtype_size(x.dtype())) {
    case 0: where_copy(pc, x.data<std::string>(), y.data<std::string>(), o.data<std::string>(), L); break;
    case 1: where_copy(pc, (const uint8_t*)x.raw(), (const uint8_t*)y.raw(), (uint8_t*)o.raw(), L); break;
    case 2: where_copy(pc, (const uint16_t*)x.raw(), (const uint16_t*)y.raw(), (uint16_t*)o.raw(), L); break;
    case 4: where_copy(pc, (const uint32_t*)x.raw(), (const uint32_t*)y.raw(), (uint32_t*)o.raw(), L); break;
    case 8: where_copy(pc, (const uint64_t*)x.raw(), (const uint64_t*)y.raw(), (uint64_t*)o.raw(), L); break;
    default: throw Unsupported(fmt::format("{}: type {} is not supported", node.label(), dtype_name(x.dtype())));
  }
}

}  // namespace

KILN_REGISTER_KERNELS(register_compare_logic_kernels) {
  auto cmp = [&](const char* op, int64_t since, Cmp c) {
    r.add({DeviceType::Cpu, "", op, since, kMaxOpset},
          [c](const KernelInfo& info) { return std::make_unique<CompareKernel>(info, c); });
  };
  cmp("Equal", 1, Cmp::Eq);
  cmp("Less", 1, Cmp::Lt);
  cmp("Greater", 1, Cmp::Gt);
  cmp("LessOrEqual", 12, Cmp::Le);
  cmp("GreaterOrEqual", 12, Cmp::Ge);
  r.add_fn("", "And", 1, kMaxOpset, [](KernelContext& ctx) { logic(ctx, Logic::And); });
  r.add_fn("", "Or", 1, kMaxOpset, [](KernelContext& ctx) { logic(ctx, Logic::Or); });
  r.add_fn("", "Xor", 1, kMaxOpset, [](KernelContext& ctx) { logic(ctx, Logic::Xor); });
  r.add_fn("", "Not", 1, kMaxOpset, logic_not);
  r.add_fn("", "Where", 9, kMaxOpset, where);
}

}  // namespace kiln::cpu
