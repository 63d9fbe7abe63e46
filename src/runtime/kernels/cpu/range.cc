// Range: start, start + delta, ... up to (not including) limit, computed in the inputs' type.
#include <cmath>

#include "runtime/kernels/cpu/common.h"
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

}  // namespace

KILN_REGISTER_KERNELS(register_range_kernels) {
  r.add_fn("", "Range", 11, kMaxOpset, range_compute);
}

}  // namespace kiln::cpu
