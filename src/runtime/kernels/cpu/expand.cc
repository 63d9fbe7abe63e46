// Expand: the input broadcast (numpy rules) to a shape given as an input.
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

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

}  // namespace

KILN_REGISTER_KERNELS(register_expand_kernels) {
  r.add_fn("", "Expand", 8, kMaxOpset, expand_compute);
}

}  // namespace kiln::cpu
