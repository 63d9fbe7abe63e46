// Transpose: axes permuted (perm attribute, reversed by default).
#include <algorithm>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class TransposeKernel : public OpKernel {
 public:
  explicit TransposeKernel(const KernelInfo& info) : perm_(info.node.attr_ints("perm")) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int r = x.rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      perm.resize(r);
      for (int i = 0; i < r; ++i) perm[i] = r - 1 - i;
    }
    KILN_CHECK((int)perm.size() == r, BadInput, "{}: perm has {} entries for an input of rank {}", ctx.node().label(),
               perm.size(), r);
    std::vector<bool> seen(r, false);
    auto st = contiguous_strides(x.shape());
    Shape out(r);
    std::vector<std::vector<int64_t>> tables(r);
    bool identity = true;
    for (int d = 0; d < r; ++d) {
      int p = normalize_axis(perm[d], r, ctx.node());
      KILN_CHECK(!seen[p], BadModel, "{}: perm {} is not a permutation", ctx.node().label(), shape_str(perm));
      seen[p] = true;
      out[d] = x.shape()[p];
      tables[d] = linear_table(out[d], st[p]);
      if (p != d) identity = false;
    }
    if (identity) {
      ctx.set_output(0, x);
      return;
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    std::vector<int> p(r);
    for (int d = 0; d < r; ++d) p[d] = normalize_axis(perm[d], r, ctx.node());
    if (!transpose_tiled(x, p, y)) gather_copy(x, y, tables);
  }

 private:
  std::vector<int64_t> perm_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_transpose_kernels) {
  r.add({DeviceType::Cpu, "", "Transpose", 1, kMaxOpset}, make<TransposeKernel>());
}

}  // namespace kiln::cpu
