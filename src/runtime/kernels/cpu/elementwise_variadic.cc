// Max, Min, Sum, Mean over one or more inputs with numpy broadcasting (opset 8 on; earlier
// opsets required equal shapes, which broadcasting also covers). Folded pairwise left to right.
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Fold { Max, Min, Sum, Mean };

void variadic(KernelContext& ctx, Fold op) {
  const Node& node = ctx.node();
  KILN_CHECK(ctx.num_inputs() >= 1, BadModel, "{}: needs at least one input", node.label());
  const Tensor& first = ctx.input(0);
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    KILN_CHECK(t.dtype() == first.dtype(), BadInput, "{}: input {} is {} but input 0 is {}", node.label(), i,
               dtype_name(t.dtype()), dtype_name(first.dtype()));
    shapes.push_back(t.shape());
  }
  Shape os = broadcast_shapes(shapes, node);
  if (ctx.num_inputs() == 1 && op != Fold::Mean) {
    ctx.set_output(0, first);
    return;
  }
  dispatch_numeric(first.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw BadInput(fmt::format("{}: bool inputs are not supported", node.label()));
    } else {
      using C = ComputeT<T>;
      Tensor acc = first;
      for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        const Tensor& b = ctx.input(i);
        Shape s = broadcast_shapes({acc.shape(), b.shape()}, node);
        Tensor next(first.dtype(), s);
        const T* pa = acc.data<T>();
        const T* pb = b.data<T>();
        T* po = next.data<T>();
        switch (op) {
          case Fold::Max:
            binary_map<C>(pa, acc.shape(), pb, b.shape(), po, s, [](C x, C y) {
              if constexpr (std::is_floating_point_v<C>)
                if (std::isnan(x) || std::isnan(y)) return x + y;
              return x < y ? y : x;
            });
            break;
          case Fold::Min:
            binary_map<C>(pa, acc.shape(), pb, b.shape(), po, s, [](C x, C y) {
              if constexpr (std::is_floating_point_v<C>)
                if (std::isnan(x) || std::isnan(y)) return x + y;
              return y < x ? y : x;
            });
            break;
          case Fold::Sum:
          case Fold::Mean:
            binary_map<C>(pa, acc.shape(), pb, b.shape(), po, s, [](C x, C y) { return (C)(x + y); });
            break;
        }
        acc = next;
      }
      if (op == Fold::Mean) {
        C n = (C)ctx.num_inputs();
        Tensor out(first.dtype(), acc.shape());
        unary_map(acc.data<T>(), out.data<T>(), acc.numel(), [n](T v) { return to_storage<T>((C)((C)v / n)); });
        acc = out;
      }
      ctx.set_output(0, acc);
    }
  });
}

}  // namespace

KILN_REGISTER_KERNELS(register_elementwise_variadic_kernels) {
  r.add_fn("", "Max", 1, kMaxOpset, [](KernelContext& ctx) { variadic(ctx, Fold::Max); });
  r.add_fn("", "Min", 1, kMaxOpset, [](KernelContext& ctx) { variadic(ctx, Fold::Min); });
  r.add_fn("", "Sum", 1, kMaxOpset, [](KernelContext& ctx) { variadic(ctx, Fold::Sum); });
  r.add_fn("", "Mean", 1, kMaxOpset, [](KernelContext& ctx) { variadic(ctx, Fold::Mean); });
}

}  // namespace kiln::cpu
