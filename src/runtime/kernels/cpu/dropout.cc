// Dropout. At inference (the usual case: no training_mode input, or it is false, or opset < 12
// with is_test) the output is the input and the mask is all true. In training mode each element is
// kept with probability 1 - ratio and scaled by 1 / (1 - ratio), drawn from a generator seeded by
// the `seed` attribute when given.
#include <mutex>
#include <random>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class DropoutKernel : public OpKernel {
 public:
  explicit DropoutKernel(const KernelInfo& info) : opset_(info.opset) {
    ratio_ = info.node.attr_float("ratio", 0.5f);
    if (info.node.has_attr("seed")) rng_.seed((uint32_t)info.node.attr_int("seed", 0));
    else rng_.seed(std::random_device{}());
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    float ratio = ratio_;
    bool training = false;
    if (opset_ >= 12) {
      if (const Tensor* r = ctx.input_or_null(1)) ratio = (float)r->item_f64(0);
      if (const Tensor* t = ctx.input_or_null(2)) training = t->item_i64(0) != 0;
    }
    KILN_CHECK(ratio >= 0 && ratio < 1, BadInput, "{}: ratio must be in [0, 1), got {}", ctx.node().label(), ratio);
    // Before opset 10 the mask had the input's type; bool since.
    DType mask_type = opset_ < 10 ? x.dtype() : DType::Bool;
    bool want_mask = ctx.num_outputs() > 1 && ctx.output_wanted(1);
    if (!training || ratio == 0) {
      ctx.set_output(0, x);
      if (want_mask) {
        Tensor m(mask_type, x.shape());
        dispatch_numeric(mask_type, [&](auto tag) {
          using T = decltype(tag);
          T one = to_storage<T>(1.0f);
          if constexpr (std::is_same_v<T, bool>) one = true;
          T* p = m.data<T>();
          for (int64_t i = 0; i < m.numel(); ++i) p[i] = one;
        });
        ctx.set_output(1, m);
      }
      return;
    }
    KILN_CHECK(dtype_is_float(x.dtype()), BadInput, "{}: training-mode dropout needs a float input", ctx.node().label());
    Tensor xf = x.dtype() == DType::F32 ? x : x.cast(DType::F32);
    Tensor yf(DType::F32, x.shape());
    Tensor m(DType::Bool, x.shape());
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    const float scale = 1.0f / (1.0f - ratio);
    const float* px = xf.data<float>();
    float* py = yf.data<float>();
    bool* pm = m.data<bool>();
    std::lock_guard<std::mutex> lock(rng_mutex_);  // sessions may run concurrently
    for (int64_t i = 0; i < x.numel(); ++i) {
      pm[i] = u(rng_) >= ratio;
      py[i] = pm[i] ? px[i] * scale : 0.0f;
    }
    ctx.set_output(0, x.dtype() == DType::F32 ? yf : yf.cast(x.dtype()));
    if (want_mask) ctx.set_output(1, m);
  }

 private:
  int64_t opset_;
  float ratio_;
  std::mt19937 rng_;
  std::mutex rng_mutex_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_dropout_kernels) {
  r.add({DeviceType::Cpu, "", "Dropout", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<DropoutKernel>(info); });
}

}  // namespace kiln::cpu
