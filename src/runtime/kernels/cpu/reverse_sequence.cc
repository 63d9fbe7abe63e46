// ReverseSequence: for each batch entry b, reverses the first sequence_lens[b] steps along time_axis.
#include <algorithm>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class ReverseSequenceKernel : public OpKernel {
 public:
  explicit ReverseSequenceKernel(const KernelInfo& info)
      : batch_axis_(info.node.attr_int("batch_axis", 1)), time_axis_(info.node.attr_int("time_axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    auto lens = ctx.input(1).to_i64_vector();
    KILN_CHECK(x.rank() >= 2, BadInput, "{}: input must have rank >= 2", node.label());
    int ba = normalize_axis(batch_axis_, x.rank(), node), ta = normalize_axis(time_axis_, x.rank(), node);
    KILN_CHECK(ba != ta && (int64_t)lens.size() == x.shape()[ba], BadInput,
               "{}: sequence_lens must have one entry per batch element", node.label());
    auto st = contiguous_strides(x.shape());
    int r = x.rank();
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    copy_elements(y, 0, x, 0, x.numel());
    // One batch entry at a time: the reversed prefix is a gather over the other axes.
    for (int64_t b = 0; b < x.shape()[ba]; ++b) {
      int64_t len = std::clamp<int64_t>(lens[b], 0, x.shape()[ta]);
      for (int64_t t = 0; t < len; ++t) {
        int64_t src_t = len - 1 - t;
        // copy every element with (batch b, time t) from (batch b, time src_t)
        int64_t outer_n = 1;
        for (int d = 0; d < r; ++d)
          if (d != ba && d != ta) outer_n *= x.shape()[d];
        std::vector<int64_t> c(r, 0);
        for (int64_t i = 0; i < outer_n; ++i) {
          int64_t dst = b * st[ba] + t * st[ta], src = b * st[ba] + src_t * st[ta];
          for (int d = 0; d < r; ++d)
            if (d != ba && d != ta) {
              dst += c[d] * st[d];
              src += c[d] * st[d];
            }
          copy_elements(y, dst, x, src, 1);
          for (int d = r - 1; d >= 0; --d) {
            if (d == ba || d == ta) continue;
            if (++c[d] < x.shape()[d]) break;
            c[d] = 0;
          }
        }
      }
    }
  }

 private:
  int64_t batch_axis_, time_axis_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_reverse_sequence_kernels) {
  r.add({DeviceType::Cpu, "", "ReverseSequence", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ReverseSequenceKernel>(info); });
}

}  // namespace kiln::cpu
