// ONNX Runtime's com.microsoft GELU family (Gelu, BiasGelu, FastGelu, QuickGelu): y = f(x + bias), the
// bias along the last dimension. Semantics follow ONNX Runtime's docs/ContribOperators.md; float32 only.
#include <cmath>
#include <memory>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/contrib_util.h"
#include "runtime/kernels/cpu/vec_math.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// f(v, y, n) transforms n values in place (the vectorised kernels of vec_math.h).
template <typename F>
void biased_unary(KernelContext& ctx, const Tensor* bias, F&& f) {
  const Tensor& x = ctx.input(0);
  require_f32(ctx.node(), x, "input");
  int64_t last = x.rank() ? std::max<int64_t>(x.dim(-1), 1) : 1;
  const float* b = channel_vector(ctx.node(), bias, last, "bias");
  Tensor& y = ctx.allocate_output(0, DType::F32, x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  int64_t rows = x.numel() / last;
  parallel_for(rows, last * 16, [&](long r0, long r1) {
    const float* src = px + r0 * last;
    float* dst = py + r0 * last;
    int64_t n = (r1 - r0) * last;
    if (b) {
      for (long r = r0; r < r1; ++r)
        for (int64_t i = 0; i < last; ++i) py[r * last + i] = px[r * last + i] + b[i];
      src = dst;
    }
    f(src, dst, n);
  });
}

// BiasGelu: gelu_erf(x + bias) with the bias over the last axis, one pass per row.
void bias_gelu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  require_f32(ctx.node(), x, "input");
  int64_t last = x.rank() ? std::max<int64_t>(x.dim(-1), 1) : 1;
  const float* b = channel_vector(ctx.node(), &ctx.input(1), last, "bias");
  Tensor& y = ctx.allocate_output(0, DType::F32, x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  parallel_for(x.numel() / last, last * 16, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) vec::bias_gelu_erf(px + r * last, b, py + r * last, last);
  });
}

}  // namespace

KILN_REGISTER_KERNELS(register_contrib_gelu_kernels) {
  const std::string ms = "com.microsoft";
  auto gelu = [](const float* x, float* y, int64_t n) { vec::gelu_erf(x, y, n); };
  auto fast_gelu = [](const float* x, float* y, int64_t n) { vec::gelu_tanh(x, y, n); };
  r.add_fn(ms, "Gelu", 1, kMaxOpset, [gelu](KernelContext& ctx) { biased_unary(ctx, nullptr, gelu); });
  r.add_fn(ms, "BiasGelu", 1, kMaxOpset, [](KernelContext& ctx) { bias_gelu(ctx); });
  r.add_fn(ms, "FastGelu", 1, kMaxOpset,
           [fast_gelu](KernelContext& ctx) { biased_unary(ctx, ctx.input_or_null(1), fast_gelu); });
  r.add_fn(ms, "QuickGelu", 1, kMaxOpset, [](KernelContext& ctx) {
    float alpha = ctx.node().attr_float("alpha", 1.702f);
    // x * sigmoid(alpha x), a block at a time so x is still there for the product.
    biased_unary(ctx, nullptr, [alpha](const float* x, float* y, int64_t n) {
      float t[256];
      for (int64_t i0 = 0; i0 < n; i0 += 256) {
        int64_t m = std::min<int64_t>(256, n - i0);
        for (int64_t i = 0; i < m; ++i) t[i] = alpha * x[i0 + i];
        vec::sigmoid(t, t, m);
        for (int64_t i = 0; i < m; ++i) y[i0 + i] = x[i0 + i] * t[i];
      }
    });
  });
}

}  // namespace kiln::cpu
