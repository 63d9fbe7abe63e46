// ONNX Runtime's com.microsoft Attention (fused QKV projection), as its transformer optimizer writes
// it. Semantics follow ONNX Runtime's docs/ContribOperators.md; float32 only.
#include <cmath>
#include <memory>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/contrib_util.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/vec_math.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

using dt = dnnl::memory::data_type;

class AttentionKernel : public OpKernel {
 public:
  explicit AttentionKernel(const KernelInfo& info)
      : qkv_(dt::f32, dt::f32, dt::f32), scores_(dt::f32, dt::f32, dt::f32), context_(dt::f32, dt::f32, dt::f32) {
    const Node& n = info.node;
    heads_ = n.attr_int("num_heads", 0);
    KILN_CHECK(heads_ > 0, BadModel, "{}: num_heads must be positive", n.label());
    unidirectional_ = n.attr_int("unidirectional", 0) != 0;
    mask_filter_ = n.attr_float("mask_filter_value", -10000.f);
    scale_ = n.attr_float("scale", 0.f);
    sizes_ = n.attr_ints("qkv_hidden_sizes");
    KILN_CHECK(n.attr_int("do_rotary", 0) == 0, Unsupported, "{}: rotary embeddings are not supported", n.label());
    KILN_CHECK(n.attr_int("past_present_share_buffer", 0) == 0, Unsupported,
               "{}: past_present_share_buffer is not supported", n.label());
    const Tensor* w = info.constant(1);
    if (w && w->dtype() == DType::F32 && w->rank() == 2) {
      w_shape_ = w->shape();
      qkv_.pack_b(*w, w->dim(0), w->dim(1), false);
    }
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    require_f32(node, x, "input");
    require_f32(node, w, "weights");
    KILN_CHECK(x.rank() == 3 && w.rank() == 2 && w.dim(0) == x.dim(2), BadInput,
               "{}: input {} and weights {} must be [batch, sequence, hidden] and [hidden, 3 * hidden]", node.label(),
               shape_str(x.shape()), shape_str(w.shape()));
    int64_t B = x.dim(0), S = x.dim(1), Hin = x.dim(2), Htot = w.dim(1);
    int64_t Hq = Htot / 3, Hk = Hq, Hv = Htot - 2 * Hq;
    if (sizes_.size() == 3) Hq = sizes_[0], Hk = sizes_[1], Hv = sizes_[2];
    KILN_CHECK(Hq + Hk + Hv == Htot && Hq == Hk && Hq % heads_ == 0 && Hv % heads_ == 0, BadInput,
               "{}: weights of width {} do not split into Q, K, V for {} heads", node.label(), Htot, heads_);
    int64_t D = Hq / heads_, Dv = Hv / heads_, NH = heads_;
    const float* bias = channel_vector(node, ctx.input_or_null(2), Htot, "bias");
    const Tensor* mask = ctx.input_or_null(3);
    const Tensor* past = ctx.input_or_null(4);
    const Tensor* attn_bias = ctx.input_or_null(5);
    int64_t P = 0;
    if (past) {
      require_f32(node, *past, "past");
      KILN_CHECK(past->rank() == 5 && past->dim(0) == 2 && past->dim(1) == B && past->dim(2) == NH &&
                     past->dim(4) == D && D == Dv,
                 BadInput, "{}: past must be [2, {}, {}, past_length, {}], not {}", node.label(), B, NH, D,
                 shape_str(past->shape()));
      P = past->dim(3);
    }
    int64_t T = P + S;
    float scale = scale_ != 0.f ? scale_ : 1.f / std::sqrt((float)D);

    // 1. The projection: [B*S, Hin] x [Hin, Htot] (+ bias).
    Tensor qkv(DType::F32, {B * S, Htot});
    bool packed = qkv_.has_packed_b() && w.shape() == w_shape_;
    qkv_.run(MatMulShape{1, B * S, Hin, Htot}, x.data<float>(), packed ? nullptr : w.data<float>(),
             qkv.data<float>());
    float* pq = qkv.data<float>();
    if (bias)
      parallel_for(B * S, Htot, [&](long r0, long r1) {
        for (long r = r0; r < r1; ++r)
          for (int64_t i = 0; i < Htot; ++i) pq[r * Htot + i] += bias[i];
      });

    // 2. Heads apart: Q [B, NH, S, D]; K, V [B, NH, T, D] after the past ones (present when wanted).
    Tensor q(DType::F32, {B, NH, S, D});
    KILN_CHECK(D == Dv || !ctx.output_wanted(1), Unsupported,
               "{}: a present output needs equal Q and V head sizes", node.label());
    Tensor k_store, v_store;
    if (ctx.output_wanted(1)) {
      Tensor& present = ctx.allocate_output(1, DType::F32, {2, B, NH, T, D});
      k_store = present;
      v_store = Tensor::view(DType::F32, {B, NH, T, D}, present.buffer(), present.offset() + B * NH * T * D * 4);
    } else {
      k_store = Tensor(DType::F32, {B, NH, T, D});
      v_store = Tensor(DType::F32, {B, NH, T, Dv});
    }
    float *pk = k_store.data<float>(), *pv = v_store.data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        float* qd = q.data<float>() + (b * NH + h) * S * D;
        float* kd_ = pk + (b * NH + h) * T * D;
        float* vd = pv + (b * NH + h) * T * Dv;
        if (P) {
          const float* pk0 = past->data<float>() + (b * NH + h) * P * D;
          const float* pv0 = past->data<float>() + (B * NH + b * NH + h) * P * D;
          std::copy(pk0, pk0 + P * D, kd_);
          std::copy(pv0, pv0 + P * D, vd);
        }
        for (int64_t s = 0; s < S; ++s) {
          const float* row = pq + (b * S + s) * Htot;
          std::copy(row + h * D, row + (h + 1) * D, qd + s * D);
          std::copy(row + Hq + h * D, row + Hq + (h + 1) * D, kd_ + (P + s) * D);
          std::copy(row + Hq + Hk + h * Dv, row + Hq + Hk + (h + 1) * Dv, vd + (P + s) * Dv);
        }
      }

    // 3. Scores [B*NH, S, T] = Q K^T * scale, masked, softmax.
    Tensor scores(DType::F32, {B * NH, S, T});
    float* ps = scores.data<float>();
    scores_.run(MatMulShape{B * NH, S, D, T, false, true}, q.data<float>(), pk, ps, scale);
    std::vector<float> add = mask_bias(node, mask, B, S, T, P);
    const float* ab = nullptr;
    int64_t ab_b = 0, ab_h = 0;
    if (attn_bias) {
      require_f32(node, *attn_bias, "attention_bias");
      KILN_CHECK(attn_bias->rank() == 4 && (attn_bias->dim(0) == B || attn_bias->dim(0) == 1) &&
                     (attn_bias->dim(1) == NH || attn_bias->dim(1) == 1) && attn_bias->dim(2) == S &&
                     attn_bias->dim(3) == T,
                 BadInput, "{}: attention_bias must be [batch or 1, heads or 1, {}, {}], not {}", node.label(), S, T,
                 shape_str(attn_bias->shape()));
      ab = attn_bias->data<float>();
      ab_b = attn_bias->dim(0) == 1 ? 0 : attn_bias->dim(1) * S * T;
      ab_h = attn_bias->dim(1) == 1 ? 0 : S * T;
    }
    parallel_for(B * NH * S, T * 4, [&](long r0, long r1) {
      for (long r = r0; r < r1; ++r) {
        int64_t b = r / (NH * S), h = (r / S) % NH, s = r % S;
        float* row = ps + r * T;
        const float* m = add.empty() ? nullptr : add.data() + (b * S + s) * T;
        const float* a = ab ? ab + b * ab_b + h * ab_h + s * T : nullptr;
        if (m)
          for (int64_t t = 0; t < T; ++t) row[t] += m[t];
        if (a)
          for (int64_t t = 0; t < T; ++t) row[t] += a[t];
        vec::softmax(row, row, T);
      }
    });

    // 4. Context [B*NH, S, Dv] = P V, then heads back together: [B, S, NH*Dv].
    Tensor context(DType::F32, {B * NH, S, Dv});
    context_.run(MatMulShape{B * NH, S, T, Dv}, ps, pv, context.data<float>());
    Tensor& y = ctx.allocate_output(0, DType::F32, {B, S, Hv});
    const float* pc = context.data<float>();
    float* py = y.data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t s = 0; s < S; ++s)
          std::copy(pc + ((b * NH + h) * S + s) * Dv, pc + ((b * NH + h) * S + s + 1) * Dv, py + (b * S + s) * Hv + h * Dv);
  }

 private:
  // The additive mask [B, S, T] (empty when nothing is masked): mask_filter_value where a key is
  // masked out by mask_index or lies in the future (unidirectional).
  std::vector<float> mask_bias(const Node& node, const Tensor* mask, int64_t B, int64_t S, int64_t T, int64_t P) const {
    if (!mask && !unidirectional_) return {};
    std::vector<float> add((size_t)(B * S * T), 0.f);
    if (mask) {
      KILN_CHECK(dtype_is_integer(mask->dtype()), BadInput, "{}: mask_index must be an integer tensor", node.label());
      const Shape& ms = mask->shape();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t t = 0; t < T; ++t) {
            bool keep;
            if (ms.size() == 1 && ms[0] == B) {
              keep = t < mask->item_i64(b);  // right padding: valid length
            } else if (ms.size() == 1 && ms[0] == 2 * B) {
              keep = t < mask->item_i64(b) && t >= mask->item_i64(B + b);  // end, then start
            } else if (ms.size() == 2 && ms[0] == B && ms[1] == T) {
              keep = mask->item_i64(b * T + t) != 0;
            } else if (ms.size() == 3 && ms[0] == B && ms[1] == S && ms[2] == T) {
              keep = mask->item_i64((b * S + s) * T + t) != 0;
            } else {
              throw Unsupported(fmt::format("{}: mask_index of shape {} is not supported (use [batch], [2 * batch], "
                                            "[batch, total_length] or [batch, length, total_length])",
                                            node.label(), shape_str(ms)));
            }
            if (!keep) add[(b * S + s) * T + t] += mask_filter_;
          }
    }
    if (unidirectional_)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t t = P + s + 1; t < T; ++t) add[(b * S + s) * T + t] += mask_filter_;
    return add;
  }

  int64_t heads_ = 0;
  bool unidirectional_ = false;
  float mask_filter_ = -10000.f, scale_ = 0.f;
  std::vector<int64_t> sizes_;
  DnnlMatMul qkv_, scores_, context_;
  Shape w_shape_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_contrib_attention_kernels) {
  const std::string ms = "com.microsoft";
  r.add({DeviceType::Cpu, ms, "Attention", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<AttentionKernel>(info); });
}

}  // namespace kiln::cpu
