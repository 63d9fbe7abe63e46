// ONNX Runtime's com.microsoft Attention (fused QKV projection), as its transformer optimizer writes
// it. Semantics follow ONNX Runtime's docs/ContribOperators.md; float32 only. After the projection
// (bias in its epilogue) it runs on kiln:Attention's blocks (attention_gemm.h): per (batch, head),
// Q, K and V read in place from the projection's rows, no [B, NH, S, T] tensor.
#include <atomic>
#include <cmath>
#include <memory>

#include "core/threads.h"
#include "runtime/kernels/cpu/attention_gemm.h"
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
      : qkv_(dt::f32, dt::f32, dt::f32) {
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

    // 1. The projection: [B*S, Hin] x [Hin, Htot] (+ bias in the product's epilogue).
    Tensor qkv(DType::F32, {B * S, Htot});
    bool packed = qkv_.has_packed_b() && w.shape() == w_shape_;
    qkv_.run(MatMulShape{1, B * S, Hin, Htot}, x.data<float>(), packed ? nullptr : w.data<float>(),
             qkv.data<float>(), 1.f, false, bias);
    const float* pq = qkv.data<float>();

    // 2. K and V of every position: read in place from the projection's rows (stride Htot) when
    // there is no past and no present is wanted; else gathered after the past ones into [B, NH, T, D]
    // (the present output, when wanted).
    KILN_CHECK(D == Dv || !ctx.output_wanted(1), Unsupported,
               "{}: a present output needs equal Q and V head sizes", node.label());
    const bool gather = P > 0 || ctx.output_wanted(1);
    Tensor k_store, v_store;
    if (ctx.output_wanted(1)) {
      Tensor& present = ctx.allocate_output(1, DType::F32, {2, B, NH, T, D});
      k_store = present;
      v_store = Tensor::view(DType::F32, {B, NH, T, D}, present.buffer(), present.offset() + B * NH * T * D * 4);
    } else if (gather) {
      k_store = Tensor(DType::F32, {B, NH, T, D});
      v_store = Tensor(DType::F32, {B, NH, T, Dv});
    }
    if (gather) {
      float *pk = k_store.data<float>(), *pv = v_store.data<float>();
      parallel_for(B * NH, T * (D + Dv), [&](long i0, long i1) {
        for (long i = i0; i < i1; ++i) {
          const int64_t b = i / NH, h = i % NH;
          float* kd = pk + i * T * D;
          float* vd = pv + i * T * Dv;
          if (P) {
            const float* pk0 = past->data<float>() + i * P * D;
            const float* pv0 = past->data<float>() + (B * NH + i) * P * D;
            std::copy(pk0, pk0 + P * D, kd);
            std::copy(pv0, pv0 + P * D, vd);
          }
          for (int64_t s = 0; s < S; ++s) {
            const float* row = pq + (b * S + s) * Htot;
            std::copy(row + Hq + h * D, row + Hq + (h + 1) * D, kd + (P + s) * D);
            std::copy(row + Hq + Hk + h * Dv, row + Hq + Hk + (h + 1) * Dv, vd + (P + s) * Dv);
          }
        }
      });
    }

    // 3. Per (batch, head), as kiln:Attention (attention.cc) runs the exporters' attention: scores
    // [S, T] = scale * Q K^T (K^T packed once per head), the mask and attention_bias added, softmax
    // per row, then P V written straight into the output's columns of this head, [B, S, NH * Dv].
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
    Tensor& y = ctx.allocate_output(0, DType::F32, {B, S, Hv});
    float* py = y.data<float>();
    if (y.numel() == 0) return;
    std::atomic<bool> failed{false};
    parallel_for(B * NH, S * T * (D + Dv) * 2, [&](long i0, long i1) {
      thread_local std::vector<float> sbuf, ktbuf;
      sbuf.resize((size_t)(S * T));
      ktbuf.resize((size_t)(D * T));
      for (long i = i0; i < i1; ++i) {
        const int64_t b = i / NH, h = i % NH;
        const float* qa = pq + b * S * Htot + h * D;
        const float* kb = gather ? k_store.data<float>() + i * T * D : pq + b * S * Htot + Hq + h * D;
        const float* vb = gather ? v_store.data<float>() + i * T * Dv : pq + b * S * Htot + Hq + Hk + h * Dv;
        const int64_t ldk = gather ? D : Htot, ldv = gather ? Dv : Htot;
        float* sc = sbuf.data();
        attention_transpose(kb, T, D, ldk, ktbuf.data());
        if (!attention_gemm(S, T, D, scale, qa, Htot, ktbuf.data(), T, sc, T)) failed = true;
        for (int64_t s = 0; s < S; ++s) {
          float* row = sc + s * T;
          if (!add.empty()) {
            const float* m = add.data() + (b * S + s) * T;
            for (int64_t t = 0; t < T; ++t) row[t] += m[t];
          }
          if (ab) {
            const float* a = ab + b * ab_b + h * ab_h + s * T;
            for (int64_t t = 0; t < T; ++t) row[t] += a[t];
          }
          vec::softmax(row, row, T);
        }
        if (!attention_gemm(S, Dv, T, 1.f, sc, T, vb, ldv, py + b * S * Hv + h * Dv, Hv)) failed = true;
      }
    });
    KILN_CHECK(!failed, InternalError, "{}: oneDNN's sgemm failed", node.label());
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
  DnnlMatMul qkv_;
  Shape w_shape_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_contrib_attention_kernels) {
  const std::string ms = "com.microsoft";
  r.add({DeviceType::Cpu, ms, "Attention", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<AttentionKernel>(info); });
}

}  // namespace kiln::cpu
