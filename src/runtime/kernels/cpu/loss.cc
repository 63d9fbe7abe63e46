// Training losses that inference graphs sometimes keep: NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss (= LogSoftmax over axis 1, then NLL). Shapes: input [N, C, d1...],
// target [N, d1...] of class indices, optional per-class weight [C]; reduction none/sum/mean,
// where mean divides by the summed weights of the targets not equal to ignore_index.
#include <cmath>
#include <limits>
#include <optional>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Reduction { None, Sum, Mean };

Reduction parse_reduction(const Node& node) {
  std::string r = node.attr_string("reduction", "mean");
  if (r == "none") return Reduction::None;
  if (r == "sum") return Reduction::Sum;
  KILN_CHECK(r == "mean", BadModel, "{}: reduction must be none, sum or mean, not '{}'", node.label(), r);
  return Reduction::Mean;
}

// NLL over log-probabilities lp laid out [N, C, S] (S = product of the extra dims).
Tensor nll(const Node& node, const std::vector<double>& lp, const Shape& in_shape, const Tensor& target,
           const Tensor* weight, Reduction red, std::optional<int64_t> ignore, DType out_type) {
  KILN_CHECK(in_shape.size() >= 2, BadInput, "{}: input must be [N, C, ...], got {}", node.label(),
             shape_str(in_shape));
  const int64_t N = in_shape[0], C = in_shape[1];
  int64_t S = 1;
  Shape tshape{N};
  for (size_t d = 2; d < in_shape.size(); ++d) {
    S *= in_shape[d];
    tshape.push_back(in_shape[d]);
  }
  KILN_CHECK(target.shape() == tshape, BadInput, "{}: target shape {} does not match input {} (expected {})",
             node.label(), shape_str(target.shape()), shape_str(in_shape), shape_str(tshape));
  KILN_CHECK(dtype_is_integer(target.dtype()), BadInput, "{}: target must hold integer class indices",
             node.label());
  std::vector<double> w;
  if (weight) {
    KILN_CHECK(weight->numel() == C, BadInput, "{}: weight must have {} elements, has {}", node.label(), C,
               weight->numel());
    for (int64_t c = 0; c < C; ++c) w.push_back(weight->item_f64(c));
  }
  std::vector<double> loss(N * S);
  double loss_sum = 0, weight_sum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      int64_t t = target.item_i64(n * S + s);
      double l = 0, wt = 0;
      if (!(ignore && t == *ignore)) {
        KILN_CHECK(t >= 0 && t < C, BadInput, "{}: target {} is not a class index in [0, {})", node.label(), t, C);
        wt = w.empty() ? 1.0 : w[t];
        l = -lp[(n * C + t) * S + s] * wt;
      }
      loss[n * S + s] = l;
      loss_sum += l;
      weight_sum += wt;
    }
  Tensor out;
  if (red == Reduction::None) {
    out = Tensor(DType::F64, tshape);
    std::copy(loss.begin(), loss.end(), out.data<double>());
  } else {
    double v = red == Reduction::Sum ? loss_sum : (weight_sum == 0 ? 0.0 : loss_sum / weight_sum);
    out = Tensor::scalar<double>(v);
  }
  return out.cast(out_type);
}

std::optional<int64_t> ignore_index(const Node& node) {
  if (!node.has_attr("ignore_index")) return std::nullopt;
  return node.attr_int("ignore_index", 0);
}

class NllKernel : public OpKernel {
 public:
  explicit NllKernel(const KernelInfo& info) : red_(parse_reduction(info.node)), ignore_(ignore_index(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(dtype_is_float(x.dtype()), BadInput, "{}: input must be float", ctx.node().label());
    Tensor xd = x.cast(DType::F64);
    std::vector<double> lp(xd.data<double>(), xd.data<double>() + xd.numel());
    ctx.set_output(0, nll(ctx.node(), lp, x.shape(), ctx.input(1), ctx.input_or_null(2), red_, ignore_, x.dtype()));
  }

 private:
  Reduction red_;
  std::optional<int64_t> ignore_;
};

class SceKernel : public OpKernel {
 public:
  explicit SceKernel(const KernelInfo& info) : red_(parse_reduction(info.node)), ignore_(ignore_index(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    KILN_CHECK(dtype_is_float(x.dtype()), BadInput, "{}: scores must be float", node.label());
    KILN_CHECK(x.rank() >= 2, BadInput, "{}: scores must be [N, C, ...], got {}", node.label(),
               shape_str(x.shape()));
    Tensor xd = x.cast(DType::F64);
    const double* px = xd.data<double>();
    const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
    std::vector<double> lp(x.numel());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double* p = px + n * C * S + s;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < C; ++c) m = std::max(m, p[c * S]);
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(p[c * S] - m);
        double ls = std::log(sum) + m;
        for (int64_t c = 0; c < C; ++c) lp[n * C * S + c * S + s] = p[c * S] - ls;
      }
    ctx.set_output(0, nll(node, lp, x.shape(), ctx.input(1), ctx.input_or_null(2), red_, ignore_, x.dtype()));
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
      Tensor t(DType::F64, x.shape());
      std::copy(lp.begin(), lp.end(), t.data<double>());
      ctx.set_output(1, t.cast(x.dtype()));
    }
  }

 private:
  Reduction red_;
  std::optional<int64_t> ignore_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_loss_kernels) {
  r.add({DeviceType::Cpu, "", "NegativeLogLikelihoodLoss", 12, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<NllKernel>(info); });
  r.add({DeviceType::Cpu, "", "SoftmaxCrossEntropyLoss", 12, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<SceKernel>(info); });
}

}  // namespace kiln::cpu
