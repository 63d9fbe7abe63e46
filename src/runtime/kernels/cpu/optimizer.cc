// The training optimizers of the ai.onnx.preview.training domain: Adagrad, Momentum (standard and
// Nesterov) and Adam. Inputs are R (learning rate), T (update count), then n tensors each of X,
// G (gradient) and the optimizer's state; outputs are the new X's then the new states.
// Computed elementwise in double.
#include <cmath>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Opt { Adagrad, Momentum, Adam };

class OptimizerKernel : public OpKernel {
 public:
  OptimizerKernel(const KernelInfo& info, Opt kind) : kind_(kind) {
    const Node& n = info.node;
    norm_ = n.attr_float("norm_coefficient", 0.0f);
    switch (kind) {
      case Opt::Adagrad:
        decay_ = n.attr_float("decay_factor", 0.0f);
        eps_ = n.attr_float("epsilon", 1e-6f);
        break;
      case Opt::Momentum: {
        alpha_ = n.attr_float("alpha", 0.0f);
        beta_ = n.attr_float("beta", 0.0f);
        std::string mode = n.attr_string("mode", "standard");
        KILN_CHECK(mode == "standard" || mode == "nesterov", BadModel, "{}: mode must be standard or nesterov",
                   n.label());
        nesterov_ = mode == "nesterov";
        break;
      }
      case Opt::Adam:
        alpha_ = n.attr_float("alpha", 0.9f);
        beta_ = n.attr_float("beta", 0.999f);
        eps_ = n.attr_float("epsilon", 1e-6f);
        norm_post_ = n.attr_float("norm_coefficient_post", 0.0f);
        break;
    }
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const size_t groups = kind_ == Opt::Adam ? 4 : 3;  // X, G, then one or two states
    KILN_CHECK(ctx.num_inputs() >= 2 + groups && (ctx.num_inputs() - 2) % groups == 0, BadModel,
               "{}: expects R, T and {} groups of tensors", node.label(), groups);
    const size_t n = (ctx.num_inputs() - 2) / groups;
    const double r = ctx.input(0).item_f64(0);
    const double t = (double)ctx.input(1).item_i64(0);
    for (size_t i = 0; i < n; ++i) {
      const Tensor& x0 = ctx.input(2 + i);
      std::vector<Tensor> in;  // X, G, states as double
      for (size_t g = 0; g < groups; ++g) {
        const Tensor& a = ctx.input(2 + g * n + i);
        KILN_CHECK(a.shape() == x0.shape() && dtype_is_float(a.dtype()), BadInput,
                   "{}: tensor {} of group {} must be float with X's shape {}", node.label(), i, g,
                   shape_str(x0.shape()));
        in.push_back(a.cast(DType::F64));
      }
      std::vector<Tensor> out;
      for (size_t g = 1; g < groups; ++g) out.emplace_back(DType::F64, x0.shape());  // new X, new states
      const double* x = in[0].data<double>();
      const double* gr = in[1].data<double>();
      double* nx = out[0].data<double>();
      for (int64_t e = 0; e < x0.numel(); ++e) {
        double g = norm_ * x[e] + gr[e];
        switch (kind_) {
          case Opt::Adagrad: {
            double h = in[2].data<double>()[e] + g * g;
            double lr = r / (1 + t * decay_);
            nx[e] = x[e] - lr * g / (std::sqrt(h) + eps_);
            out[1].data<double>()[e] = h;
            break;
          }
          case Opt::Momentum: {
            double b = t > 0 ? beta_ : 1.0;
            double v = alpha_ * in[2].data<double>()[e] + b * g;
            nx[e] = nesterov_ ? x[e] - r * (g + alpha_ * v) : x[e] - r * v;
            out[1].data<double>()[e] = v;
            break;
          }
          case Opt::Adam: {
            double v = alpha_ * in[2].data<double>()[e] + (1 - alpha_) * g;
            double h = beta_ * in[3].data<double>()[e] + (1 - beta_) * g * g;
            double lr = t > 0 ? r * std::sqrt(1 - std::pow(beta_, t)) / (1 - std::pow(alpha_, t)) : r;
            nx[e] = (1 - norm_post_) * (x[e] - lr * v / (std::sqrt(h) + eps_));
            out[1].data<double>()[e] = v;
            out[2].data<double>()[e] = h;
            break;
          }
        }
      }
      // out[0] is the new X (typed like group 0), out[g] the new state of input group g + 1.
      for (size_t g = 0; g + 1 < groups; ++g) {
        size_t slot = g * n + i;
        size_t like = 2 + (g == 0 ? 0 : g + 1) * n + i;
        if (slot < ctx.num_outputs()) ctx.set_output(slot, out[g].cast(ctx.input(like).dtype()));
      }
    }
  }

 private:
  Opt kind_;
  double norm_ = 0, decay_ = 0, eps_ = 1e-6, alpha_ = 0, beta_ = 0, norm_post_ = 0;
  bool nesterov_ = false;
};

}  // namespace

KILN_REGISTER_KERNELS(register_optimizer_kernels) {
  const char* d = "ai.onnx.preview.training";
  auto reg = [&](const char* op, Opt k) {
    r.add({DeviceType::Cpu, d, op, 1, kMaxOpset},
          [k](const KernelInfo& info) { return std::make_unique<OptimizerKernel>(info, k); });
  };
  reg("Adagrad", Opt::Adagrad);
  reg("Momentum", Opt::Momentum);
  reg("Adam", Opt::Adam);
}

}  // namespace kiln::cpu
