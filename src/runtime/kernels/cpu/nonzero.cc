// NonZero: coordinates of the non-zero elements, [rank, count], in row-major order.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

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

KILN_REGISTER_KERNELS(register_nonzero_kernels) {
  r.add_fn("", "NonZero", 9, kMaxOpset, nonzero_compute);
}

}  // namespace kiln::cpu
