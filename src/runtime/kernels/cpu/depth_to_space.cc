// DepthToSpace and SpaceToDepth: a reshape, a transpose, a reshape (done as one gather).
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// x viewed with shape `view`, axes permuted by `perm`, returned with shape `out`.
Tensor permute_view(const Tensor& x, const Shape& view, const std::vector<int>& perm, const Shape& out) {
  auto st = contiguous_strides(view);
  Shape pshape(perm.size());
  std::vector<std::vector<int64_t>> tables(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) {
    pshape[d] = view[perm[d]];
    tables[d] = linear_table(pshape[d], st[perm[d]]);
  }
  Tensor y(x.dtype(), pshape);
  gather_copy(x, y, tables);
  return y.reshape(out);
}

void check_4d(const Tensor& x, int64_t b, const Node& node) {
  KILN_CHECK(x.rank() == 4, BadInput, "{}: input must be [N, C, H, W], has shape {}", node.label(),
             shape_str(x.shape()));
  KILN_CHECK(b > 0, BadModel, "{}: blocksize must be positive", node.label());
}

class DepthToSpaceKernel : public OpKernel {
 public:
  explicit DepthToSpaceKernel(const KernelInfo& info)
      : b_(info.node.attr_int("blocksize", 0)), crd_(info.node.attr_string("mode", "DCR") == "CRD") {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    check_4d(x, b_, ctx.node());
    int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3], b = b_;
    KILN_CHECK(C % (b * b) == 0, BadInput, "{}: channels {} are not a multiple of blocksize^2 ({})",
               ctx.node().label(), C, b * b);
    int64_t c = C / (b * b);
    Shape out{N, c, H * b, W * b};
    if (crd_) ctx.set_output(0, permute_view(x, {N, c, b, b, H, W}, {0, 1, 4, 2, 5, 3}, out));
    else ctx.set_output(0, permute_view(x, {N, b, b, c, H, W}, {0, 3, 4, 1, 5, 2}, out));
  }

 private:
  int64_t b_;
  bool crd_;
};

class SpaceToDepthKernel : public OpKernel {
 public:
  explicit SpaceToDepthKernel(const KernelInfo& info) : b_(info.node.attr_int("blocksize", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    check_4d(x, b_, ctx.node());
    int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3], b = b_;
    KILN_CHECK(H % b == 0 && W % b == 0, BadInput, "{}: height and width must be multiples of blocksize {}",
               ctx.node().label(), b);
    ctx.set_output(0, permute_view(x, {N, C, H / b, b, W / b, b}, {0, 3, 5, 1, 2, 4}, {N, C * b * b, H / b, W / b}));
  }

 private:
  int64_t b_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_depth_to_space_kernels) {
  r.add({DeviceType::Cpu, "", "DepthToSpace", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<DepthToSpaceKernel>(info); });
  r.add({DeviceType::Cpu, "", "SpaceToDepth", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<SpaceToDepthKernel>(info); });
}

}  // namespace kiln::cpu
