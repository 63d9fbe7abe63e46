#include "runtime/kernels/cpu/dnnl_util.h"

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

// Dense row-major (or transposed) matrix descriptors, 2-D for one matrix, 3-D for a batch.
dnnl::memory::desc matrix_md(int64_t batch, int64_t rows, int64_t cols, bool stored_transposed, dt type) {
  if (batch == 1) {
    dims d{rows, cols};
    dims st = stored_transposed ? dims{1, rows} : dims{cols, 1};
    return dnnl::memory::desc(d, type, st);
  }
  dims d{batch, rows, cols};
  dims st = stored_transposed ? dims{rows * cols, 1, rows} : dims{rows * cols, cols, 1};
  return dnnl::memory::desc(d, type, st);
}

}  // namespace

DnnlMatMul::DnnlMatMul(dt a, dt b, dt c) : ta_(a), tb_(b), tc_(c) {}

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
  }
  // Choose (and fill) the layout now, so the first run does no reorder.
  prepare(Key{MatMulShape{1, m_hint, K, N, false, trans_b}, 1.f, false, true, false, false});
}

std::shared_ptr<dnnl::memory> DnnlMatMul::packed_for(const dnnl::memory::desc& md) {
  for (auto& p : packed_)
    if (p->get_desc() == md) return p;
  auto src_md = matrix_md(1, packed_k_, packed_n_, packed_trans_, tb_);
  dnnl::memory src(src_md, dnnl_engine(), const_cast<void*>(packed_src_.raw()));
  auto dst = std::make_shared<dnnl::memory>(md, dnnl_engine());
  dnnl::reorder(src, *dst).execute(dnnl_stream(), src, *dst);
  dnnl_stream().wait();
  packed_.push_back(dst);
  return dst;
}

std::shared_ptr<const DnnlMatMul::Prepared> DnnlMatMul::prepare(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const MatMulShape& s = key.shape;
  auto p = std::make_unique<Prepared>();
  p->a_md = matrix_md(s.batch, s.M, s.K, s.trans_a, ta_);
  p->c_md = matrix_md(s.batch, s.M, s.N, false, tc_);
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
      // Prefer a layout already packed (one copy of the weights serves every M); otherwise let
      // oneDNN choose and pack the weights once more for it.
      dnnl::matmul::primitive_desc pd;
      bool have = false;
      for (auto& packed : packed_) {
        try {
          pd = dnnl::matmul::primitive_desc(make_desc(packed->get_desc()), attr, dnnl_engine());
          p->packed = packed;
          have = true;
          break;
        } catch (const dnnl::error&) {
        }
      }
      if (!have) {
        auto any = dnnl::memory::desc(dims{s.K, s.N}, tb_, dnnl::memory::format_tag::any);
        pd = dnnl::matmul::primitive_desc(make_desc(any), attr, dnnl_engine());
        p->packed = packed_for(pd.weights_desc());
      }
      p->b_md = p->packed->get_desc();
      p->scratch_md = pd.scratchpad_desc();
      p->prim = dnnl::matmul(pd);
    } else {
      p->b_md = matrix_md(s.batch, s.K, s.N, s.trans_b, tb_);
      dnnl::matmul::primitive_desc pd(make_desc(p->b_md), attr, dnnl_engine());
      p->scratch_md = pd.scratchpad_desc();
      p->prim = dnnl::matmul(pd);
    }
  } catch (const dnnl::error& e) {
    throw InternalError(fmt::format("oneDNN could not make a matrix product for {}x{}x{} (batch {}): {}", s.M,
                                    s.K, s.N, s.batch, e.what()));
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
                     const float* bias, bool gelu) {
  bool packed = has_packed_b() && b == nullptr;
  if (packed) {
    KILN_CHECK(shape.batch == 1 && shape.K == packed_k_ && shape.N == packed_n_ && shape.trans_b == packed_trans_,
               InternalError, "packed matrix product used with another shape");
  }
  KILN_CHECK(!bias || shape.batch == 1, InternalError, "matrix product: a bias needs batch 1");
  std::shared_ptr<const Prepared> held = prepare(Key{shape, alpha, accumulate, packed, bias != nullptr, gelu});
  const Prepared& p = *held;
  auto& eng = dnnl_engine();
  dnnl::memory am(p.a_md, eng, const_cast<void*>(a));
  dnnl::memory cm(p.c_md, eng, c);
  auto& strm = dnnl_stream();
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_DST, cm}};
  if (packed)
    args.emplace(DNNL_ARG_WEIGHTS, *p.packed);
  else
    args.emplace(DNNL_ARG_WEIGHTS, dnnl::memory(p.b_md, eng, const_cast<void*>(b)));
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias_md, eng, const_cast<float*>(bias)));
  if (size_t bytes = p.scratch_md.get_size())
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratch_md, eng, scratchpad(bytes)));
  p.prim.execute(strm, args);
  strm.wait();
}

}  // namespace kiln::cpu
