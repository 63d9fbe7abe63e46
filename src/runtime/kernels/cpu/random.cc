// Random generators: RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike, Bernoulli and
// Multinomial. Each kernel owns a Mersenne Twister seeded from the `seed` attribute when given (so
// a seeded graph repeats itself run after run of one session) or from std::random_device; draws
// are serialised by a mutex because one kernel serves concurrent runs. The streams are kiln's
// own: they do not reproduce numpy's, so ONNX's random node tests cannot match value for value.
#include <cmath>
#include <mutex>
#include <random>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class Rand { Uniform, Normal, UniformLike, NormalLike, Bernoulli, Multinomial };

class RandomKernel : public OpKernel {
 public:
  RandomKernel(const KernelInfo& info, Rand kind) : kind_(kind) {
    const Node& n = info.node;
    if (n.has_attr("seed")) rng_.seed((uint32_t)(int64_t)n.attr_float("seed", 0));
    else rng_.seed(std::random_device{}());
    if (n.has_attr("dtype")) {
      int64_t t = n.attr_int("dtype", 1);
      KILN_CHECK(dtype_is_known((int32_t)t) && t != 0 && t != (int64_t)DType::String, BadModel,
                 "{}: dtype {} is not a numeric type", n.label(), t);
      dtype_ = (DType)t;
    }
    lo_ = n.attr_float("low", 0.0f);
    hi_ = n.attr_float("high", 1.0f);
    mean_ = n.attr_float("mean", 0.0f);
    scale_ = n.attr_float("scale", 1.0f);
    shape_ = n.attr_ints("shape");
    samples_ = n.attr_int("sample_size", 1);
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    std::lock_guard<std::mutex> lock(mutex_);
    switch (kind_) {
      case Rand::Uniform:
      case Rand::Normal:
      case Rand::UniformLike:
      case Rand::NormalLike: {
        bool like = kind_ == Rand::UniformLike || kind_ == Rand::NormalLike;
        Shape shape = like ? ctx.input(0).shape() : Shape(shape_);
        DType dt = dtype_ != DType::Undefined ? dtype_ : like ? ctx.input(0).dtype() : DType::F32;
        KILN_CHECK(dtype_is_float(dt), BadInput, "{}: output type must be float, not {}", node.label(),
                   dtype_name(dt));
        Tensor t(DType::F64, shape);
        double* p = t.data<double>();
        if (kind_ == Rand::Uniform || kind_ == Rand::UniformLike) {
          std::uniform_real_distribution<double> u(lo_, hi_);
          for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng_);
        } else {
          std::normal_distribution<double> g(mean_, scale_);
          for (int64_t i = 0; i < t.numel(); ++i) p[i] = g(rng_);
        }
        ctx.set_output(0, t.cast(dt));
        return;
      }
      case Rand::Bernoulli: {
        const Tensor& x = ctx.input(0);
        DType dt = dtype_ != DType::Undefined ? dtype_ : x.dtype();
        Tensor t(DType::F64, x.shape());
        std::uniform_real_distribution<double> u(0.0, 1.0);
        for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = u(rng_) < x.item_f64(i) ? 1.0 : 0.0;
        ctx.set_output(0, t.cast(dt));
        return;
      }
      case Rand::Multinomial: {
        const Tensor& x = ctx.input(0);
        KILN_CHECK(x.rank() == 2 && dtype_is_float(x.dtype()), BadInput,
                   "{}: input must be float [batch, classes] log-probabilities", node.label());
        DType dt = dtype_ != DType::Undefined ? dtype_ : DType::I32;
        const int64_t B = x.dim(0), C = x.dim(1);
        Tensor t(DType::I64, {B, samples_});
        std::vector<double> w(C);
        for (int64_t b = 0; b < B; ++b) {
          double m = -INFINITY;
          for (int64_t c = 0; c < C; ++c) m = std::max(m, x.item_f64(b * C + c));
          for (int64_t c = 0; c < C; ++c) w[c] = std::exp(x.item_f64(b * C + c) - m);
          std::discrete_distribution<int64_t> d(w.begin(), w.end());
          for (int64_t s = 0; s < samples_; ++s) t.data<int64_t>()[b * samples_ + s] = d(rng_);
        }
        ctx.set_output(0, t.cast(dt));
        return;
      }
    }
  }

 private:
  Rand kind_;
  DType dtype_ = DType::Undefined;
  double lo_, hi_, mean_, scale_;
  std::vector<int64_t> shape_;
  int64_t samples_ = 1;
  std::mt19937_64 rng_;
  std::mutex mutex_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_random_kernels) {
  auto reg = [&](const char* op, int64_t since, Rand k) {
    r.add({DeviceType::Cpu, "", op, since, kMaxOpset},
          [k](const KernelInfo& info) { return std::make_unique<RandomKernel>(info, k); });
  };
  reg("RandomUniform", 1, Rand::Uniform);
  reg("RandomNormal", 1, Rand::Normal);
  reg("RandomUniformLike", 1, Rand::UniformLike);
  reg("RandomNormalLike", 1, Rand::NormalLike);
  reg("Bernoulli", 15, Rand::Bernoulli);
  reg("Multinomial", 7, Rand::Multinomial);
}

}  // namespace kiln::cpu
