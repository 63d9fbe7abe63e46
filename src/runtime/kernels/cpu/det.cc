// Det: determinant of the last two (square) dims, in double, by LU decomposition with partial
// pivoting.
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

void det(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x0 = ctx.input(0);
  KILN_CHECK(dtype_is_float(x0.dtype()) && x0.rank() >= 2 && x0.dim(-1) == x0.dim(-2), BadInput,
             "{}: input must be float [..., M, M], got {} {}", node.label(), dtype_name(x0.dtype()),
             shape_str(x0.shape()));
  Tensor x = x0.cast(DType::F64);
  const int64_t m = x.dim(-1);
  Shape os(x.shape().begin(), x.shape().end() - 2);
  const int64_t batch = shape_numel(os);
  Tensor y(DType::F64, os);
  std::vector<double> a(m * m);
  for (int64_t b = 0; b < batch; ++b) {
    std::copy(x.data<double>() + b * m * m, x.data<double>() + (b + 1) * m * m, a.begin());
    double d = 1;
    for (int64_t c = 0; c < m && d != 0; ++c) {
      int64_t piv = c;
      for (int64_t r = c + 1; r < m; ++r)
        if (std::fabs(a[r * m + c]) > std::fabs(a[piv * m + c])) piv = r;
      if (a[piv * m + c] == 0) {
        d = 0;
        break;
      }
      if (piv != c) {
        for (int64_t k = 0; k < m; ++k) std::swap(a[piv * m + k], a[c * m + k]);
        d = -d;
      }
      d *= a[c * m + c];
      for (int64_t r = c + 1; r < m; ++r) {
        double f = a[r * m + c] / a[c * m + c];
        for (int64_t k = c; k < m; ++k) a[r * m + k] -= f * a[c * m + k];
      }
    }
    y.data<double>()[b] = d;
  }
  ctx.set_output(0, y.cast(x0.dtype()));
}

}  // namespace

KILN_REGISTER_KERNELS(register_det_kernels) { r.add_fn("", "Det", 11, kMaxOpset, det); }

}  // namespace kiln::cpu
