#include "runtime/copy_step.h"

#include "core/device_registry.h"

namespace kiln {

namespace {

class CopyKernel final : public OpKernel {
 public:
  explicit CopyKernel(Allocator& dst) : dst_(dst) {}
  void compute(KernelContext& ctx) override { ctx.set_output(0, copy_to(ctx.input(0), dst_)); }

 private:
  Allocator& dst_;
};

}  // namespace

Node copy_node(const std::string& from, const std::string& to, Device dst) {
  Node n;
  n.op_type = "Copy";
  n.domain = "kiln";
  n.name = "copy " + from + " to " + device_name(dst);
  n.inputs = {from};
  n.outputs = {to};
  return n;
}

std::unique_ptr<OpKernel> copy_kernel(Allocator& dst) { return std::make_unique<CopyKernel>(dst); }

}  // namespace kiln
