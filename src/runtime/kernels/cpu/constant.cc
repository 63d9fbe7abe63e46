// Constant, Identity: values that pass through.
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

Tensor constant_value(const Node& n) {
  if (const Attribute* a = n.attr("value")) return a->t;
  if (const Attribute* a = n.attr("value_float")) return Tensor::scalar<float>(a->f);
  if (const Attribute* a = n.attr("value_int")) return Tensor::scalar<int64_t>(a->i);
  if (const Attribute* a = n.attr("value_floats"))
    return Tensor::from_vector<float>({(int64_t)a->floats.size()}, a->floats);
  if (const Attribute* a = n.attr("value_ints"))
    return Tensor::from_vector<int64_t>({(int64_t)a->ints.size()}, a->ints);
  if (const Attribute* a = n.attr("value_string")) {
    Tensor t(DType::String, {});
    t.data<std::string>()[0] = a->s;
    return t;
  }
  if (const Attribute* a = n.attr("value_strings")) {
    Tensor t(DType::String, {(int64_t)a->strings.size()});
    for (size_t i = 0; i < a->strings.size(); ++i) t.data<std::string>()[i] = a->strings[i];
    return t;
  }
  throw BadModel(fmt::format("{}: needs one of the attributes value, value_float, value_int, ...", n.label()));
}

class ConstantKernel : public OpKernel {
 public:
  explicit ConstantKernel(const KernelInfo& info) : value_(constant_value(info.node)) {}
  void compute(KernelContext& ctx) override { ctx.set_output(0, value_); }

 private:
  Tensor value_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_constant_kernels) {
  r.add({DeviceType::Cpu, "", "Constant", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConstantKernel>(info); });
  r.add_fn("", "Identity", 1, kMaxOpset, [](KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); });
}

}  // namespace kiln::cpu
