// Tile: the input repeated along each axis; output index i of axis d reads input index i % in[d].
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

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

}  // namespace

KILN_REGISTER_KERNELS(register_tile_kernels) {
  r.add_fn("", "Tile", 6, kMaxOpset, tile_compute);
}

}  // namespace kiln::cpu
