#include "runtime/kernels/cpu/dnnl_util.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace kiln::cpu {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

dnnl::engine& dnnl_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& dnnl_stream() {
  thread_local dnnl::stream s(dnnl_engine());
  return s;
}

namespace {

// This thread's scratchpad for oneDNN primitives, at least `bytes` long (64-byte aligned). One per
// calling thread: a thread runs one primitive at a time, and threads never share one.
void* scratchpad(size_t bytes) {
  thread_local std::shared_ptr<Buffer> buf;
  if (!buf || buf->size() < bytes) buf = Buffer::allocate(bytes);
  return buf->data();
}

// Matrix descriptors, 2-D for one matrix, 3-D for a batch: `rows` x `cols` of a dense row-major
// matrix (or, when stored_transposed, of one stored cols x rows) whose columns (A: K) or rows (B: K) are
// a window of `ld` of them (the full K), so that a K-chunk is read in place.
dnnl::memory::desc a_md(int64_t batch, int64_t rows, int64_t cols, int64_t ld, bool stored_transposed, dt type) {
  dims st = stored_transposed ? dims{1, rows} : dims{ld, 1};
  if (batch == 1) return dnnl::memory::desc(dims{rows, cols}, type, st);
  return dnnl::memory::desc(dims{batch, rows, cols}, type, dims{rows * ld, st[0], st[1]});
}
dnnl::memory::desc b_md(int64_t batch, int64_t rows, int64_t cols, int64_t ld, bool stored_transposed, dt type) {
  dims st = stored_transposed ? dims{1, ld} : dims{cols, 1};
  if (batch == 1) return dnnl::memory::desc(dims{rows, cols}, type, st);
  return dnnl::memory::desc(dims{batch, rows, cols}, type, dims{ld * cols, st[0], st[1]});
}
// Where K-chunk starting at k0 begins, in elements, in A (M x K) and in B (K x N).
int64_t a_offset(int64_t k0, int64_t M, bool trans_a) { return trans_a ? k0 * M : k0; }
int64_t b_offset(int64_t k0, int64_t N, bool trans_b) { return trans_b ? k0 : k0 * N; }

// kiln's float kernel (sgemm_packed.h) where the CPU runs it, unless KILN_F32_GEMM=onednn (a
// debugging and measuring switch, read once).
bool own_kernel_enabled() {
  static const bool off = [] {
    const char* e = std::getenv("KILN_F32_GEMM");
    return e && std::string_view(e) == "onednn";
  }();
  return !off && PackedSgemmB::available();
}

}  // namespace

DnnlMatMul::DnnlMatMul(dt a, dt b, dt c) : ta_(a), tb_(b), tc_(c) {}

int64_t DnnlMatMul::chunk_k(int64_t K) const { return ta_ == dt::f32 && tb_ == dt::f32 && K > kChunkK ? kChunkK : K; }

void DnnlMatMul::pack_b(const Tensor& b, int64_t K, int64_t N, bool trans_b, int64_t m_hint) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    packed_src_ = b;
    packed_k_ = K;
    packed_n_ = N;
    packed_trans_ = trans_b;
    packed_.clear();
    cache_.clear();
    order_.clear();
    own_.reset();
  }
  if (ta_ == dt::f32 && tb_ == dt::f32 && tc_ == dt::f32 && allow_own_ && own_kernel_enabled()) {
    own_ = std::make_unique<PackedSgemmB>(b.data<float>(), K, N, trans_b);
    return;
  }
  // Choose (and fill) the layouts now, so the first run does no reorder: the first chunk's, and the
  // last one's when it is shorter (the chunks between share the first one's layout).
  const int64_t ck = chunk_k(K), last = K - (K - 1) / ck * ck;
  prepare(Key{MatMulShape{1, m_hint, ck, N, false, trans_b}, K, 1.f, false, true, false, false});
  if (last != ck) prepare(Key{MatMulShape{1, m_hint, last, N, false, trans_b}, K, 1.f, true, true, false, false});
}

std::shared_ptr<dnnl::memory> DnnlMatMul::packed_for(const dnnl::memory::desc& md, int64_t chunk) {
  for (auto& [c, p] : packed_)
    if (c == chunk && p->get_desc() == md) return p;
  const int64_t ck = chunk_k(packed_k_), k0 = chunk * ck, kc = std::min(ck, packed_k_ - k0);
  auto src_md = b_md(1, kc, packed_n_, packed_k_, packed_trans_, tb_);
  const char* base = static_cast<const char*>(packed_src_.raw()) +
                     b_offset(k0, packed_n_, packed_trans_) * dnnl::memory::data_type_size(tb_);
  dnnl::memory src(src_md, dnnl_engine(), const_cast<char*>(base));
  auto dst = std::make_shared<dnnl::memory>(md, dnnl_engine());
  dnnl::reorder(src, *dst).execute(dnnl_stream(), src, *dst);
  dnnl_stream().wait();
  packed_.emplace_back(chunk, dst);
  return dst;
}

std::shared_ptr<const DnnlMatMul::Prepared> DnnlMatMul::prepare(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const MatMulShape& s = key.shape;
  auto p = std::make_unique<Prepared>();
  p->a_md = a_md(s.batch, s.M, s.K, key.ld_k, s.trans_a, ta_);
  p->c_md = a_md(s.batch, s.M, s.N, s.N, false, tc_);
  if (key.bias) p->bias_md = dnnl::memory::desc(dims{1, s.N}, dt::f32, dims{s.N, 1});
  auto make_desc = [&](const dnnl::memory::desc& w) {
    return key.bias ? dnnl::matmul::desc(p->a_md, w, p->bias_md, p->c_md) : dnnl::matmul::desc(p->a_md, w, p->c_md);
  };
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.alpha != 1.f) attr.set_output_scales(0, {key.alpha});
  if (key.accumulate || key.gelu) {
    dnnl::post_ops po;
    if (key.accumulate) po.append_sum(1.f);
    if (key.gelu) po.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  try {
    if (key.packed) {
      // The chunks this primitive serves: those of its length.
      const int64_t ck = chunk_k(packed_k_), chunks = (packed_k_ + ck - 1) / ck;
      std::vector<int64_t> mine;
      for (int64_t c = 0; c < chunks; ++c)
        if (std::min(ck, packed_k_ - c * ck) == s.K) mine.push_back(c);
      KILN_CHECK(!mine.empty(), InternalError, "packed matrix product: no K-chunk of length {}", s.K);
      // Prefer a layout already packed (one copy of the weights serves every M); otherwise let
      // oneDNN choose and pack the weights once more for it.
      dnnl::matmul::primitive_desc pd;
      dnnl::memory::desc chosen;
      bool have = false;
      for (auto& [c, packed] : packed_) {
        if (c != mine.front()) continue;
        try {
          pd = dnnl::matmul::primitive_desc(make_desc(packed->get_desc()), attr, dnnl_engine());
          chosen = packed->get_desc();
          have = true;
          break;
        } catch (const dnnl::error&) {}
      }
      if (!have) {
        auto any = dnnl::memory::desc(dims{s.K, s.N}, tb_, dnnl::memory::format_tag::any);
        pd = dnnl::matmul::primitive_desc(make_desc(any), attr, dnnl_engine());
        chosen = pd.weights_desc();
      }
      p->packed.resize(chunks);
      for (int64_t c : mine) p->packed[c] = packed_for(chosen, c);
      p->b_md = chosen;
      p->scratch_md = pd.scratchpad_desc();
      p->prim = dnnl::matmul(pd);
    } else {
      p->b_md = b_md(s.batch, s.K, s.N, key.ld_k, s.trans_b, tb_);
      dnnl::matmul::primitive_desc pd(make_desc(p->b_md), attr, dnnl_engine());
      p->scratch_md = pd.scratchpad_desc();
      p->prim = dnnl::matmul(pd);
    }
  } catch (const dnnl::error& e) {
    throw InternalError(fmt::format("oneDNN could not make a matrix product for {}x{}x{} (batch {}): {}", s.M, s.K, s.N,
                                    s.batch, e.what()));
  }
  std::shared_ptr<const Prepared> made = std::move(p);
  cache_.emplace(key, made);
  order_.push_back(key);
  if (order_.size() > kMaxCached) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  return made;
}

void DnnlMatMul::run(const MatMulShape& shape, const void* a, const void* b, void* c, float alpha, bool accumulate,
                     const float* bias, bool gelu, const float* residual) {
  bool packed = has_packed_b() && b == nullptr;
  if (packed) {
    KILN_CHECK(shape.batch == 1 && shape.K == packed_k_ && shape.N == packed_n_ && shape.trans_b == packed_trans_,
               InternalError, "packed matrix product used with another shape");
  }
  KILN_CHECK(!bias || shape.batch == 1, InternalError, "matrix product: a bias needs batch 1");
  KILN_CHECK(!residual || (shape.batch == 1 && !gelu && tc_ == dt::f32), InternalError,
             "matrix product: a residual needs batch 1, float32 and no GELU");
  if (packed && own_ && !shape.trans_a) {
    own_->run(shape.M, static_cast<const float*>(a), shape.K, static_cast<float*>(c), shape.N, alpha, accumulate, bias,
              gelu, residual);
    return;
  }
  auto& eng = dnnl_engine();
  auto& strm = dnnl_stream();
  const int64_t ck = chunk_k(shape.K), chunks = (shape.K + ck - 1) / ck;
  const size_t ea = dnnl::memory::data_type_size(ta_), eb = dnnl::memory::data_type_size(tb_);
  for (int64_t ci = 0; ci < chunks; ++ci) {
    const int64_t k0 = ci * ck;
    const bool first = ci == 0, last = ci == chunks - 1;
    MatMulShape part = shape;
    part.K = std::min(ck, shape.K - k0);
    std::shared_ptr<const Prepared> held =
        prepare(Key{part, shape.K, alpha, accumulate || !first, packed, bias != nullptr && last, gelu && last});
    const Prepared& p = *held;
    const char* a_at = static_cast<const char*>(a) + a_offset(k0, shape.M, shape.trans_a) * ea;
    dnnl::memory am(p.a_md, eng, const_cast<char*>(a_at));
    dnnl::memory cm(p.c_md, eng, c);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_DST, cm}};
    if (packed) {
      args.emplace(DNNL_ARG_WEIGHTS, *p.packed[ci]);
    } else {
      const char* b_at = static_cast<const char*>(b) + b_offset(k0, shape.N, shape.trans_b) * eb;
      args.emplace(DNNL_ARG_WEIGHTS, dnnl::memory(p.b_md, eng, const_cast<char*>(b_at)));
    }
    if (bias && last) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias_md, eng, const_cast<float*>(bias)));
    if (size_t bytes = p.scratch_md.get_size())
      args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratch_md, eng, scratchpad(bytes)));
    p.prim.execute(strm, args);
    strm.wait();
  }
  if (residual) {
    float* y = static_cast<float*>(c);
    for (int64_t i = 0; i < shape.M * shape.N; ++i) y[i] += residual[i];
  }
}

}  // namespace kiln::cpu
