// kiln:Attention, written by the session's attention fusion (passes/attention_fusion.cc), never
// saved. Inputs q [b, s, H, D], k [b, t, H, D], v [b, t, H, Dv] (the projections' token-major
// views; k_layout / v_layout "bhsd": [b, H, t, D], a KV cache or an encoder's keys; "tbhd":
// [t, b, H, D], a cache kept time-major by passes/kv_cache_time_major.cc), then the tensors the
// score ops read, and (attribute cache_rows: its index) an int64 [b, past] table saying which batch
// row of a time-major cache holds each row's past steps; output [b, s, H, Dv], which is the exporter's
// Transpose(MatMul(Softmax(scores), V), 0213): the following Reshape to [b, s, H*Dv] is a view.
//   scores = Q' K^T with Q' = q_scale_op(q, q_scale) when q_scale is set
//   score_ops, in order: mul/div by a scalar, or by a tensor broadcast to [b, H, s, t] (GPT-2's
//   sqrt(head_dim) from a Shape); add a tensor broadcast to [b, H, s, t];
//   where_true (cond ? fill : x) / where_false (cond ? x : fill), cond broadcast, nonzero = true
//   out = softmax(scores, last axis) V
// Work is split into blocks of query rows of one (batch, head): the block's scores are made by one
// product (attention_gemm.h: Q read in place through its row stride, K^T packed once per
// (batch, head)), masked and softmaxed while they are in cache, and multiplied by V (read in place)
// straight into the output's layout.
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <type_traits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/threads.h"
#include "runtime/kernels/cpu/attention_gemm.h"
#include "runtime/kernels/cpu/attention_projections.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/value_range.h"
#include "runtime/kernels/cpu/vec_math.h"
#include "runtime/registry.h"

namespace kiln::cpu {

namespace {

enum class OpKind { Mul, Div, Add, WhereTrue, WhereFalse };

struct ScoreOp {
  OpKind kind;
  float scalar = 0;
  int input = -1;
};

// A tensor broadcast to [b, H, s, t]: element offsets per index (0 along broadcast dimensions).
struct Broadcast4 {
  const Tensor* t = nullptr;
  int64_t sb = 0, sh = 0, ss = 0, st = 0;
};

bool power_of_two(float x) {
  if (!(x > 0) || !std::isfinite(x)) return false;
  int e;
  return std::frexp(x, &e) == 0.5f && e > -120 && e < 120;
}

bool where_type_ok(DType t) {
  return t == DType::Bool || t == DType::U8 || t == DType::I8 || t == DType::I32 || t == DType::I64 ||
         t == DType::F32 || t == DType::F64;
}

class AttentionKernel : public OpKernel {
 public:
  explicit AttentionKernel(const KernelInfo& info) {
    const Node& n = info.node;
    if (n.has_attr("q_scale")) {
      float s = n.attr_float("q_scale", 1.0f);
      std::string op = n.attr_string("q_scale_op", "mul");
      KILN_CHECK(op == "mul" || op == "div", BadModel, "{}: q_scale_op must be mul or div", n.label());
      q_div_ = op == "div";
      q_scale_ = s;
      has_q_scale_ = true;
    }
    auto kinds = n.has_attr("score_ops") ? n.attr("score_ops")->strings : std::vector<std::string>{};
    auto scalars = n.attr_floats("score_scalars");
    auto inputs = n.attr_ints("score_inputs");
    KILN_CHECK(scalars.size() == kinds.size() && inputs.size() == kinds.size(), BadModel,
               "{}: score_ops, score_scalars and score_inputs must have the same length", n.label());
    for (size_t i = 0; i < kinds.size(); ++i) {
      ScoreOp op;
      const std::string& k = kinds[i];
      if (k == "mul") op.kind = OpKind::Mul;
      else if (k == "div") op.kind = OpKind::Div;
      else if (k == "add") op.kind = OpKind::Add;
      else if (k == "where_true") op.kind = OpKind::WhereTrue;
      else if (k == "where_false") op.kind = OpKind::WhereFalse;
      else KILN_CHECK(false, BadModel, "{}: unknown score op '{}'", n.label(), k);
      op.scalar = scalars[i];
      op.input = (int)inputs[i];
      const bool needs_input = op.kind == OpKind::Add || op.kind == OpKind::WhereTrue || op.kind == OpKind::WhereFalse;
      const bool may_take_input = op.kind == OpKind::Mul || op.kind == OpKind::Div;  // a scalar or a tensor
      const bool has_input = op.input >= 3 && op.input < (int)n.inputs.size();
      KILN_CHECK(has_input ? needs_input || may_take_input : !needs_input && op.input < 0, BadModel,
                 "{}: score op {} has a bad input index", n.label(), k);
      ops_.push_back(op);
    }
    // Scalings that come first (or the query's) by a power of two are exact as the product's
    // alpha: (x / 8) rounds exactly like x * 0.125, and scaling a rounded sum by 2^k is exact.
    while (first_op_ < ops_.size()) {
      const ScoreOp& op = ops_[first_op_];
      if ((op.kind != OpKind::Mul && op.kind != OpKind::Div) || op.input >= 0 || !power_of_two(op.scalar)) break;
      alpha_ *= op.kind == OpKind::Mul ? op.scalar : 1.0f / op.scalar;
      ++first_op_;
    }
    k_layout_ = layout(n, "k_layout");
    v_layout_ = layout(n, "v_layout");
    rows_input_ = (int)n.attr_int("cache_rows", -1);
    KILN_CHECK(rows_input_ == -1 || (rows_input_ >= 3 && rows_input_ < (int)n.inputs.size()), BadModel,
               "{}: cache_rows names input {}, which the node does not have", n.label(), rows_input_);
    if (has_q_scale_ && power_of_two(q_scale_)) {
      alpha_ *= q_div_ ? 1.0f / q_scale_ : q_scale_;
      has_q_scale_ = false;
    }
    if (n.has_attr("projections")) {
      proj_ = (int)n.attr_int("projections", -1);
      KILN_CHECK(proj_ >= 3 && (size_t)proj_ < n.inputs.size(), BadModel, "{}: attribute projections is out of range",
                 n.label());
      for (size_t i = 0; i < ops_.size(); ++i)
        KILN_CHECK(ops_[i].input < proj_, BadModel, "{}: score op {} reads a projection input", n.label(), i);
      KILN_CHECK(rows_input_ < 0 && k_layout_ == Layout::TokenMajor && v_layout_ == Layout::TokenMajor, BadModel,
                 "{}: projections need token-major keys and values without cache_rows", n.label());
      projections_ = std::make_unique<AttentionProjections>(info, (size_t)proj_);
    }
  }

  void compute(KernelContext& ctx) override {
    if (proj_ >= 0) return run_projected(ctx);
    // 16-bit float models (fp16 / bf16 exports) run through float32: inputs and additive masks are
    // widened, the block runs as below, and the output is rounded once to the model's type (the
    // unfused nodes round after every op, so this is at least as accurate).
    const DType dt = ctx.input(0).dtype();
    if (dt == DType::F16 || dt == DType::BF16) {
      std::vector<Tensor> wide(ctx.num_inputs());
      std::vector<const Tensor*> in(ctx.num_inputs(), nullptr);
      for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (!ctx.has_input(i)) continue;
        const Tensor& t = ctx.input(i);
        if (t.dtype() == DType::F16 || t.dtype() == DType::BF16) {
          wide[i] = t.cast(DType::F32);
          in[i] = &wide[i];
        } else {
          in[i] = &t;
        }
      }
      Tensor out;
      run_f32(ctx, in, &out);
      ctx.set_output(0, out.cast(dt));
      return;
    }
    // This thread's list, kept across runs; used through the reference (a thread_local named in a
    // lambda on a worker thread would be that thread's own).
    thread_local std::vector<const Tensor*> tls_in;
    std::vector<const Tensor*>& in = tls_in;
    in.assign(ctx.num_inputs(), nullptr);
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i)) in[i] = &ctx.input(i);
    run_f32(ctx, in, nullptr);
  }

 private:
  // q, k and v made here from their projections' input (attention_projections.h), each sequence's
  // just before it is attended over.
  void run_projected(KernelContext& ctx) {
    thread_local std::vector<const Tensor*> tls_in;  // this thread's, kept across runs
    std::vector<const Tensor*>& in = tls_in;
    in.assign(ctx.num_inputs(), nullptr);
    for (size_t i = 3; i < (size_t)proj_; ++i)
      if (ctx.has_input(i)) in[i] = &ctx.input(i);
    const AttentionProjections::Run run(*projections_, ctx);
    run_f32(ctx, in, nullptr, run.views(), [&run](int64_t first) { return AttentionProjections::Run::Window(run, first); });
  }

  // Runs on float32 inputs `in` (indexed like the node's). The output goes to the node's output 0,
  // or to *wide_out when given (the 16-bit path casts it afterwards).
  void run_f32(KernelContext& ctx, const std::vector<const Tensor*>& in, Tensor* wide_out) {
    if (in[0]->dtype() != DType::F32 || in[1]->dtype() != DType::F32 || in[2]->dtype() != DType::F32)
      unsupported(ctx.node(), "runs float32 and 16-bit floats only");
    run_f32(ctx, in, wide_out, {in[0]->shape(), in[1]->shape(), in[2]->shape()}, nullptr);
  }
  // The same with q, k and v given by their shapes: their elements are in[0..2]'s, or, with
  // `make_window`, made batch row by batch row: each thread's make_window(first batch row) w, then w(b) makes row
  // b's q, k and v and returns where their first rows are (token-major), before b is attended over.
  template <typename MakeWindow>
  void run_f32(KernelContext& ctx, const std::vector<const Tensor*>& in, Tensor* wide_out,
               const std::array<Shape, 3>& shapes, MakeWindow&& make_window) {
    constexpr bool per_batch = !std::is_same_v<std::decay_t<MakeWindow>, std::nullptr_t>;
    const Node& node = ctx.node();
    const Shape &qs = shapes[0], &ks = shapes[1], &vs = shapes[2];
    auto unsupported = [&](const std::string& why) { AttentionKernel::unsupported(node, why); };
    if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4) unsupported("needs rank-4 query, key and value");
    const int64_t B = qs[0], S = qs[1], H = qs[2], D = qs[3];
    // Key and value rows: token-major [b, t, H, D], head-major [b, H, t, D] or time-major
    // [t, b, H, D]. The batch and head checks below are part of the fusion's proof for BART's form
    // (heads merged into the batch by 3-D Reshapes): it proves those merge q's (b, H), and k's and
    // v's must then be the same.
    const Rows kr = rows_of(ks, k_layout_), vr = rows_of(vs, v_layout_);
    const int64_t T = kr.t, Dv = vs[3];
    if (kr.b != B || vr.b != B || kr.h != H || vr.h != H || ks[3] != D || vr.t != T)
      unsupported(fmt::format("got query {}, key {}, value {} that do not line up", shape_str(qs), shape_str(ks),
                              shape_str(vs)));
    const Shape scores{B, H, S, T};
    thread_local std::vector<Broadcast4> tls_bc;  // this thread's, kept across runs (see tls_in)
    std::vector<Broadcast4>& bc = tls_bc;
    bc.assign(ops_.size(), Broadcast4{});
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].input < 0) continue;
      const Tensor& t = *in[(size_t)ops_[i].input];
      const bool arithmetic = ops_[i].kind == OpKind::Add || ops_[i].kind == OpKind::Mul || ops_[i].kind == OpKind::Div;
      if (arithmetic && t.dtype() != DType::F32) unsupported("scales or adds float32 tensors only");
      if (!arithmetic && !where_type_ok(t.dtype()))
        unsupported(fmt::format("does not take a mask of type {}", dtype_name(t.dtype())));
      if (t.rank() > 4) unsupported("got a mask of rank above 4");
      Shape full(4 - t.rank(), 1);
      full.insert(full.end(), t.shape().begin(), t.shape().end());
      for (int d = 0; d < 4; ++d)
        if (full[d] != 1 && full[d] != scores[d])
          unsupported(fmt::format("got a mask or bias {} that does not broadcast to the scores {}",
                                  shape_str(t.shape()), shape_str(scores)));
      auto st = contiguous_strides(full);
      bc[i] = {&t, full[0] == 1 ? 0 : st[0], full[1] == 1 ? 0 : st[1], full[2] == 1 ? 0 : st[2],
               full[3] == 1 ? 0 : st[3]};
    }
    if (wide_out) *wide_out = Tensor(DType::F32, {B, S, H, Dv});
    Tensor& out = wide_out ? *wide_out : ctx.allocate_output(0, DType::F32, {B, S, H, Dv});
    // kiln:DynamicQuantizeLinear reads the output's range from here (passes/quantize_range_fusion.cc;
    // it refuses 16-bit inputs, so the 16-bit path writes no real range).
    const int range_out = ValueRange::output_index(node);
    const bool want_range = !wide_out && range_out >= 0 && ctx.output_wanted((size_t)range_out) && Dv > 0;
    ValueRange range;
    if (out.numel() == 0) return range.write(ctx, range_out);
    if (T == 0) {
      range.merge(0.f, 0.f);
      range.write(ctx, range_out);
      std::memset(out.data<float>(), 0, out.numel() * sizeof(float));
      return;
    }
    // Which batch row of a time-major cache holds row b's step t (cache_rows, a beam search's
    // reorders): rows[b * past + t] for t < past, b itself for the steps being appended.
    const int64_t* rows_tbl = nullptr;
    int64_t past = 0;
    if (rows_input_ >= 0 && in[(size_t)rows_input_] && in[(size_t)rows_input_]->numel() > 0) {
      const Tensor& r = *in[(size_t)rows_input_];
      if (r.dtype() != DType::I64 || r.rank() != 2 || r.dim(0) != B || r.dim(1) > T)
        throw BadInput(fmt::format("{}: cache_rows must be int64 [batch {}, past steps <= {}], got {} {}", node.label(),
                                   B, T, dtype_name(r.dtype()), shape_str(r.shape())));
      rows_tbl = r.data<int64_t>();
      past = r.dim(1);
      for (int64_t i = 0; i < r.numel(); ++i)
        if (rows_tbl[i] < 0 || rows_tbl[i] >= B)
          throw BadInput(fmt::format("{}: cache_rows holds row {}, outside the batch of {}", node.label(), rows_tbl[i], B));
    }
    const bool k_gather = rows_tbl && k_layout_ == Layout::TimeMajor;
    const bool v_gather = rows_tbl && v_layout_ == Layout::TimeMajor;
    const float* qp = per_batch ? nullptr : in[0]->data<float>();
    const float* kp = per_batch ? nullptr : in[1]->data<float>();
    const float* vp = per_batch ? nullptr : in[2]->data<float>();
    float* op = out.data<float>();
    // Query rows per block: at most 64, so the block's scores stay in L2 (and at 128 keys, 32 KiB, mostly
    // in L1 between the two products); 128 at 128 tokens took ~3 % longer (one thread, CPU time).
    const int64_t rows = std::min<int64_t>(S, 64);
    const int64_t blocks = (S + rows - 1) / rows;
    const int64_t items = B * H * blocks;
    std::atomic<bool> failed{false};
    // Items begin..end-1; with a window, all of batch row b, whose q, k and v rows start at `at`.
    auto work = [&](long begin, long end, const std::array<const float*, 3>& at) {
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      thread_local std::vector<float> sbuf, qbuf, ktbuf, gbuf;
      sbuf.resize(rows * T);
      ktbuf.resize(D * T);
      if (k_gather || v_gather) gbuf.resize(T * std::max(D, Dv));
      // Rows of (b, h) gathered through cache_rows into gbuf, [T, d] contiguous.
      auto gather = [&](const float* base, const Rows& r, int64_t b, int64_t h, int64_t d) {
        for (int64_t t = 0; t < T; ++t) {
          const int64_t from = t < past ? rows_tbl[b * past + t] : b;
          std::memcpy(&gbuf[(size_t)(t * d)], base + t * r.ld + r.start(from, h), (size_t)d * sizeof(float));
        }
        return gbuf.data();
      };
      int64_t packed = -1;  // the (batch, head) whose K^T is in ktbuf
      if (has_q_scale_) qbuf.resize(rows * D);
      for (long it = begin; it < end; ++it) {
        const int64_t b = it / (H * blocks), h = (it / blocks) % H, i0 = (it % blocks) * rows;
        const int64_t m = std::min(rows, S - i0);
        const float* qa = (per_batch ? at[0] : qp + b * S * H * D) + (i0 * H + h) * D;
        int64_t lda = H * D;
        if (has_q_scale_) {
          for (int64_t i = 0; i < m; ++i)
            for (int64_t d = 0; d < D; ++d)
              qbuf[i * D + d] = q_div_ ? qa[i * lda + d] / q_scale_ : qa[i * lda + d] * q_scale_;
          qa = qbuf.data();
          lda = D;
        }
        float* s = sbuf.data();
        // K^T of this (batch, head), [D, T] row-major: the product then reads contiguous rows.
        if (packed != b * H + h) {
          if (k_gather) attention_transpose(gather(kp, kr, b, h, D), T, D, D, ktbuf.data());
          else attention_transpose(per_batch ? at[1] + h * kr.sh : kp + kr.start(b, h), T, D, kr.ld, ktbuf.data());
          packed = b * H + h;
        }
        if (!attention_gemm(m, T, D, alpha_, qa, lda, ktbuf.data(), T, s, T)) failed = true;
        // A byte mask that is the same for every query row (a padding mask, [b, 1, 1, t]) and fills
        // nothing (no padding) is left out once for the block instead of row by row.
        uint32_t skip = 0;
        for (size_t o = first_op_; o < ops_.size() && o < 32; ++o)
          if (fills_nothing(ops_[o], bc[o], b, h, T)) skip |= 1u << o;
        for (int64_t i = 0; i < m; ++i) {
          float* row = s + i * T;
          for (size_t o = first_op_; o < ops_.size(); ++o)
            if (o >= 32 || !(skip >> o & 1)) apply(ops_[o], bc[o], row, b, h, i0 + i, T);
        }
        vec::softmax_rows(s, m, T, T);
        float* ob = op + ((b * S + i0) * H + h) * Dv;
        const bool ok = v_gather ? attention_gemm(m, Dv, T, 1.0f, s, T, gather(vp, vr, b, h, Dv), Dv, ob, H * Dv)
                                 : attention_gemm(m, Dv, T, 1.0f, s, T,
                                                  per_batch ? at[2] + h * vr.sh : vp + vr.start(b, h), vr.ld,
                                                  ob, H * Dv);
        if (!ok) failed = true;
        if (want_range) attention_min_max(ob, m, Dv, H * Dv, &lo, &hi);  // the block's output rows, in L1
      }
      if (want_range) range.merge(lo, hi);
    };
    const long cost = rows * T * (D + Dv) * 2;
    if constexpr (per_batch) {
      // Whole batch rows per thread where they split evenly (or there are many), each thread with its
      // own window; otherwise one row after another, each row's products and heads split.
      const long per = H * blocks;
      const int threads = thread_count();
      if (threads > 1 && (B % threads == 0 || B >= 8 * threads)) {
        // Nothing may leave an OpenMP region by an exception: the first is kept and thrown after it.
        std::exception_ptr error;
        std::mutex error_mu;
        parallel_for(B, 1L << 30, [&](long b0, long b1) {
          try {
            auto window = make_window(b0);
            for (long b = b0; b < b1; ++b) work(b * per, (b + 1) * per, window(b));
          } catch (...) {
            std::lock_guard<std::mutex> lock(error_mu);
            if (!error) error = std::current_exception();
          }
        });
        if (error) std::rethrow_exception(error);
      } else {
        auto window = make_window(0);
        for (int64_t b = 0; b < B; ++b) {
          const std::array<const float*, 3> at = window(b);
          parallel_for(per, cost, [&](long begin, long end) { work(b * per + begin, b * per + end, at); });
        }
      }
    } else {
      parallel_for(items, cost, [&](long begin, long end) { work(begin, end, {}); });
    }
    range.write(ctx, range_out);
    KILN_CHECK(!failed, InternalError, "{}: oneDNN's sgemm failed", node.label());
  }

  [[noreturn]] static void unsupported(const Node& node, const std::string& why) {
    throw Unsupported(
        fmt::format("{}: fused attention {}; run at optimization level 1 (kiln exec/run --optimization-level 1) to "
                    "run the exporter's nodes unfused",
                    node.label(), why));
  }

  enum class Layout { TokenMajor, HeadMajor, TimeMajor };  // bshd, bhsd, tbhd

  static Layout layout(const Node& n, const char* attr) {
    const std::string l = n.attr_string(attr, "bshd");
    if (l == "bshd") return Layout::TokenMajor;
    if (l == "bhsd") return Layout::HeadMajor;
    KILN_CHECK(l == "tbhd", BadModel, "{}: {} must be bshd, bhsd or tbhd, not '{}'", n.label(), attr, l);
    return Layout::TimeMajor;
  }

  // Where the key (or value) rows of one (batch, head) are in a rank-4 tensor of that layout: the
  // sizes, the first row's element offset and the distance between rows.
  struct Rows {
    int64_t b = 0, h = 0, t = 0, d = 0;
    int64_t sb = 0, sh = 0, ld = 0;
    int64_t start(int64_t bi, int64_t hi) const { return bi * sb + hi * sh; }
  };

  static Rows rows_of(const Shape& x, Layout l) {
    Rows r;
    r.d = x[3];
    switch (l) {
      case Layout::TokenMajor:  // [b, t, H, D]
        r.b = x[0], r.t = x[1], r.h = x[2];
        r.sb = r.t * r.h * r.d, r.sh = r.d, r.ld = r.h * r.d;
        break;
      case Layout::HeadMajor:  // [b, H, t, D]
        r.b = x[0], r.h = x[1], r.t = x[2];
        r.sb = r.h * r.t * r.d, r.sh = r.t * r.d, r.ld = r.d;
        break;
      case Layout::TimeMajor:  // [t, b, H, D]
        r.t = x[0], r.b = x[1], r.h = x[2];
        r.sb = r.h * r.d, r.sh = r.d, r.ld = r.b * r.h * r.d;
        break;
    }
    return r;
  }

  // Whether a Where with a byte condition, the same for every query row, sets no score of (b, h).
  static bool fills_nothing(const ScoreOp& op, const Broadcast4& bc, int64_t b, int64_t h, int64_t T) {
    if (op.kind != OpKind::WhereTrue && op.kind != OpKind::WhereFalse) return false;
    const DType t = bc.t->dtype();
    if ((t != DType::Bool && t != DType::U8) || bc.ss != 0 || bc.st != 1) return false;
    const uint8_t* c = static_cast<const uint8_t*>(bc.t->raw()) + b * bc.sb + h * bc.sh;
    const bool when = op.kind == OpKind::WhereTrue;
    for (int64_t j = 0; j < T; ++j)
      if ((c[j] != 0) == when) return false;
    return true;
  }

  static void apply(const ScoreOp& op, const Broadcast4& bc, float* row, int64_t b, int64_t h, int64_t i, int64_t T) {
    switch (op.kind) {
      case OpKind::Mul:
      case OpKind::Div:
        if (op.input < 0) {
          if (op.kind == OpKind::Mul)
            for (int64_t j = 0; j < T; ++j) row[j] *= op.scalar;
          else
            for (int64_t j = 0; j < T; ++j) row[j] /= op.scalar;
        } else {  // by a tensor broadcast to the scores
          const float* a = bc.t->data<float>() + b * bc.sb + h * bc.sh + i * bc.ss;
          if (op.kind == OpKind::Mul)
            for (int64_t j = 0; j < T; ++j) row[j] *= a[j * bc.st];
          else
            for (int64_t j = 0; j < T; ++j) row[j] /= a[j * bc.st];
        }
        return;
      case OpKind::Add: {
        const float* a = bc.t->data<float>() + b * bc.sb + h * bc.sh + i * bc.ss;
        if (bc.st == 1) {
          for (int64_t j = 0; j < T; ++j) row[j] += a[j];
        } else {
          for (int64_t j = 0; j < T; ++j) row[j] += a[j * bc.st];
        }
        return;
      }
      case OpKind::WhereTrue:
      case OpKind::WhereFalse:
        where(op, bc, row, b, h, i, T);
        return;
    }
  }

  template <typename C>
  static void where_typed(const C* c, int64_t st, bool fill_when_true, float fill, float* row, int64_t T) {
    for (int64_t j = 0; j < T; ++j) {
      bool cond = c[j * st] != C(0);
      if (std::is_floating_point_v<C>) cond = cond || std::isnan((double)c[j * st]);
      if (cond == fill_when_true) row[j] = fill;
    }
  }

  static void where(const ScoreOp& op, const Broadcast4& bc, float* row, int64_t b, int64_t h, int64_t i, int64_t T) {
    const Tensor& t = *bc.t;
    int64_t off = b * bc.sb + h * bc.sh + i * bc.ss;
    bool when = op.kind == OpKind::WhereTrue;
    switch (t.dtype()) {
      case DType::Bool:
      case DType::U8:
        if (bc.st == 1) {
          attention_where_bytes(static_cast<const uint8_t*>(t.raw()) + off, T, when, op.scalar, row);
          return;
        }
        where_typed(static_cast<const uint8_t*>(t.raw()) + off, bc.st, when, op.scalar, row, T);
        return;
      case DType::I8:
        where_typed(t.data<int8_t>() + off, bc.st, when, op.scalar, row, T);
        return;
      case DType::I32:
        where_typed(t.data<int32_t>() + off, bc.st, when, op.scalar, row, T);
        return;
      case DType::I64:
        where_typed(t.data<int64_t>() + off, bc.st, when, op.scalar, row, T);
        return;
      case DType::F32:
        where_typed(t.data<float>() + off, bc.st, when, op.scalar, row, T);
        return;
      case DType::F64:
        where_typed(t.data<double>() + off, bc.st, when, op.scalar, row, T);
        return;
      default:
        return;  // refused before the parallel region (where_type_ok)
    }
  }

  int proj_ = -1;  // attribute projections: the index of the projections' input; -1 without
  std::unique_ptr<AttentionProjections> projections_;

  std::vector<ScoreOp> ops_;
  size_t first_op_ = 0;  // ops before this one are folded into alpha_
  float alpha_ = 1.0f;
  bool has_q_scale_ = false;
  Layout k_layout_ = Layout::TokenMajor, v_layout_ = Layout::TokenMajor;
  int rows_input_ = -1;  // the cache_rows input, -1 without
  bool q_div_ = false;
  float q_scale_ = 1.0f;
};

}  // namespace

KILN_REGISTER_KERNELS(register_attention_kernels) {
  r.add({DeviceType::Cpu, "kiln", "Attention", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<AttentionKernel>(info); });
}

}  // namespace kiln::cpu
