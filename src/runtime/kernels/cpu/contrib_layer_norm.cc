// ONNX Runtime's com.microsoft SkipLayerNormalization and EmbedLayerNormalization (what its transformer
// optimizer writes). Semantics follow ONNX Runtime's docs/ContribOperators.md; float32 only.
#include <cmath>
#include <memory>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/contrib_util.h"
#include "runtime/kernels/cpu/vec_math.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// y = (v - mean) / sqrt(var + eps) * gamma + beta over one row of n values; returns mean, 1/std.
inline void normalize_row(const float* v, int64_t n, float eps, const float* gamma, const float* beta, float* y,
                          float* mean_out, float* inv_std_out) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += v[i];
  float mean = (float)(s / n);
  double q = 0;
  for (int64_t i = 0; i < n; ++i) q += (double)(v[i] - mean) * (v[i] - mean);
  float inv = 1.f / std::sqrt((float)(q / n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (v[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.f);
  if (mean_out) *mean_out = mean;
  if (inv_std_out) *inv_std_out = inv;
}

// SkipLayerNormalization: input, skip, gamma, beta?, bias? -> output, mean?, inv_std_var?, input_skip_bias_sum?
void skip_layer_norm(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& skip = ctx.input(1);
  require_f32(node, x, "input");
  require_f32(node, skip, "skip");
  KILN_CHECK(x.rank() >= 1, BadInput, "{}: input must have a hidden dimension", node.label());
  int64_t H = x.dim(-1), rows = x.numel() / std::max<int64_t>(H, 1);
  // skip: same shape as input, or one [S, H] block shared by every batch.
  KILN_CHECK(skip.dim(-1) == H && x.numel() % std::max<int64_t>(skip.numel(), 1) == 0 && skip.numel() > 0, BadInput,
             "{}: skip of shape {} does not match input {}", node.label(), shape_str(skip.shape()),
             shape_str(x.shape()));
  int64_t skip_rows = skip.numel() / H;
  const float* gamma = channel_vector(node, &ctx.input(2), H, "gamma");
  const float* beta = channel_vector(node, ctx.input_or_null(3), H, "beta");
  const float* bias = channel_vector(node, ctx.input_or_null(4), H, "bias");
  float eps = node.attr_float("epsilon", 1e-12f);
  Tensor& y = ctx.allocate_output(0, DType::F32, x.shape());
  Shape stat_shape = x.shape();
  stat_shape.back() = 1;
  float* mean = ctx.output_wanted(1) ? ctx.allocate_output(1, DType::F32, stat_shape).data<float>() : nullptr;
  float* inv = ctx.output_wanted(2) ? ctx.allocate_output(2, DType::F32, stat_shape).data<float>() : nullptr;
  float* sum_out = ctx.output_wanted(3) ? ctx.allocate_output(3, DType::F32, x.shape()).data<float>() : nullptr;
  const float *px = x.data<float>(), *ps = skip.data<float>();
  float* py = y.data<float>();
  parallel_for(rows, H * 8, [&](long r0, long r1) {
    std::vector<float> v((size_t)H);
    for (long r = r0; r < r1; ++r) {
      const float* xr = px + r * H;
      const float* sr = ps + (r % skip_rows) * H;
      for (int64_t i = 0; i < H; ++i) v[i] = xr[i] + sr[i] + (bias ? bias[i] : 0.f);
      if (sum_out) std::copy(v.begin(), v.end(), sum_out + r * H);
      normalize_row(v.data(), H, eps, gamma, beta, py + r * H, mean ? mean + r : nullptr, inv ? inv + r : nullptr);
    }
  });
}

// EmbedLayerNormalization: input_ids, segment_ids?, word_embedding, position_embedding, segment_embedding?,
// gamma, beta, mask?, position_ids? -> output, mask_index?, embedding_sum?
void embed_layer_norm(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& ids = ctx.input(0);
  const Tensor* seg = ctx.input_or_null(1);
  const Tensor& wemb = ctx.input(2);
  const Tensor& pemb = ctx.input(3);
  const Tensor* semb = ctx.input_or_null(4);
  const Tensor* mask = ctx.input_or_null(7);
  const Tensor* pos_ids = ctx.input_or_null(8);
  KILN_CHECK(ids.rank() == 2, BadInput, "{}: input_ids must be [batch, sequence], not {}", node.label(),
             shape_str(ids.shape()));
  require_f32(node, wemb, "word_embedding");
  require_f32(node, pemb, "position_embedding");
  int64_t B = ids.dim(0), S = ids.dim(1), H = wemb.dim(-1);
  const float* gamma = channel_vector(node, &ctx.input(5), H, "gamma");
  const float* beta = channel_vector(node, ctx.input_or_null(6), H, "beta");
  float eps = node.attr_float("epsilon", 1e-12f);
  auto lookup = [&](const Tensor& table, int64_t id, const char* what) {
    KILN_CHECK(id >= 0 && id < table.dim(0), BadInput, "{}: {} index {} is out of range [0, {})", node.label(), what,
               id, table.dim(0));
    return table.data<float>() + id * H;
  };
  Tensor& y = ctx.allocate_output(0, DType::F32, {B, S, H});
  float* sum_out = ctx.output_wanted(2) ? ctx.allocate_output(2, DType::F32, {B, S, H}).data<float>() : nullptr;
  std::vector<float> v((size_t)H);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) {
      int64_t r = b * S + s;
      int64_t pos = s;
      if (pos_ids) pos = pos_ids->item_i64(pos_ids->numel() == S ? s : r);
      const float* w = lookup(wemb, ids.item_i64(r), "input_ids");
      const float* p = lookup(pemb, pos, "position");
      const float* g = semb && seg ? lookup(*semb, seg->item_i64(r), "segment_ids") : nullptr;
      for (int64_t i = 0; i < H; ++i) v[i] = w[i] + p[i] + (g ? g[i] : 0.f);
      if (sum_out) std::copy(v.begin(), v.end(), sum_out + r * H);
      normalize_row(v.data(), H, eps, gamma, beta, y.data<float>() + r * H, nullptr, nullptr);
    }
  if (ctx.output_wanted(1)) {
    // mask_index: the number of attended tokens of each sequence (all of them without a mask).
    int32_t* mi = ctx.allocate_output(1, DType::I32, {B}).data<int32_t>();
    for (int64_t b = 0; b < B; ++b) {
      int32_t n = 0;
      for (int64_t s = 0; s < S; ++s) n += mask ? (mask->item_i64(b * S + s) != 0) : 1;
      mi[b] = n;
    }
  }
}

}  // namespace

KILN_REGISTER_KERNELS(register_contrib_layer_norm_kernels) {
  const std::string ms = "com.microsoft";
  r.add_fn(ms, "SkipLayerNormalization", 1, kMaxOpset, skip_layer_norm);
  r.add_fn(ms, "EmbedLayerNormalization", 1, kMaxOpset, embed_layer_norm);
}

}  // namespace kiln::cpu
