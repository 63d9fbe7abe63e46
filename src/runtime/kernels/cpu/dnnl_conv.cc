#include "runtime/kernels/cpu/dnnl_conv.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "core/buffer.h"
#include "core/error.h"
#include "core/threads.h"
#include "runtime/kernels/cpu/dnnl_util.h"

namespace kiln::cpu {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;

namespace {

// Per-thread working memory, by role: a run uses each role once at a time, and threads never share.
enum Area { kScratch, kX, kY, kW, kAreas };
void* thread_area(Area a, size_t bytes) {
  thread_local std::shared_ptr<Buffer> bufs[kAreas];
  auto& b = bufs[a];
  if (!b || b->size() < bytes) b = Buffer::allocate(std::max<size_t>(bytes, 64));
  return b->data();
}

dims to_dims(const Shape& s) { return dims(s.begin(), s.end()); }

// The dense ONNX layout (abc, abcd, abcde, abcdef) of a rank-r tensor.
dnnl::memory::desc plain(const dims& d) {
  static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  return dnnl::memory::desc(d, dt::f32, tags[d.size()]);
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// A reorder from one layout to another (user scratchpad), and the scratch bytes it needs.
dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to, size_t& scratch) {
  dnnl::reorder::primitive_desc pd(dnnl_engine(), from, dnnl_engine(), to, user_scratchpad());
  scratch = std::max(scratch, pd.scratchpad_desc().get_size());
  return dnnl::reorder(pd);
}

void add_scratch(std::unordered_map<int, dnnl::memory>& args, size_t bytes) {
  if (!bytes) return;
  dnnl::memory::desc md(dims{(int64_t)bytes}, dt::u8, tag::a);
  args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(md, dnnl_engine(), thread_area(kScratch, bytes)));
}

void run_reorder(const dnnl::reorder& r, const dnnl::memory& from, const dnnl::memory& to, size_t scratch) {
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  add_scratch(args, scratch);
  r.execute(dnnl_stream(), args);
}

// One reorder from src (laid out as `from`) to dst (as `to`), run to completion now: constant weights
// packed once, a layout change between regions.
void reorder_now(const dnnl::memory::desc& from, const void* src, const dnnl::memory::desc& to, void* dst) {
  size_t scratch = 0;
  auto r = make_reorder(from, to, scratch);
  dnnl::memory a(from, dnnl_engine(), const_cast<void*>(src)), b(to, dnnl_engine(), dst);
  run_reorder(r, a, b, scratch);
  dnnl_stream().wait();
}

dims minus_one(const std::vector<int64_t>& v) {
  dims d;
  for (int64_t x : v) d.push_back(x - 1);
  return d;
}

}  // namespace

ConvActivation ConvActivation::from(const std::string& name, const std::vector<float>& p, const std::string& who) {
  ConvActivation a;
  a.name = name;
  auto param = [&](size_t i, float d) { return i < p.size() ? p[i] : d; };
  if (name.empty() || name == "Relu" || name == "Sigmoid" || name == "Tanh" || name == "HardSwish") return a;
  if (name == "LeakyRelu") {
    a.alpha = param(0, 0.01f);
  } else if (name == "Clip") {
    a.alpha = param(0, -3.4028235e38f);
    a.beta = param(1, 3.4028235e38f);
  } else if (name == "HardSigmoid") {
    a.alpha = param(0, 0.2f);
    a.beta = param(1, 0.5f);
  } else {
    throw Unsupported(fmt::format("{}: activation '{}' is not supported (Relu, LeakyRelu, Clip, Sigmoid, Tanh, "
                                  "HardSigmoid, HardSwish are)",
                                  who, name));
  }
  return a;
}

DnnlConv::DnnlConv(ConvActivation activation) : act_(std::move(activation)) {}

bool DnnlConv::supports(const ConvGeometry& g) {
  size_t nd = g.kernel.size();
  if (nd < 1 || nd > 3 || g.groups < 1) return false;
  for (size_t i = 0; i < nd; ++i)
    if (g.pad_begin[i] < 0 || g.pad_end[i] < 0 || g.strides[i] < 1 || g.dilations[i] < 1) return false;
  return true;
}

void DnnlConv::pack_weights(const Tensor& w) {
  std::lock_guard<std::mutex> lock(mu_);
  packed_src_ = w;
  packed_.clear();
  cache_.clear();
  order_.clear();
}

// Weights in layout md: made from the constant source once per layout (usually one for every shape).
std::shared_ptr<dnnl::memory> DnnlConv::packed_for(const dnnl::memory::desc& md) {
  for (auto& p : packed_)
    if (p->get_desc() == md) return p;
  auto dst = std::make_shared<dnnl::memory>(md, dnnl_engine());
  reorder_now(plain(md.dims()), packed_src_.raw(), md, dst->get_data_handle());
  packed_.push_back(dst);
  return dst;
}

std::shared_ptr<const DnnlConv::Prepared> DnnlConv::prepare(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  auto p = std::make_shared<Prepared>();
  const ConvGeometry& geo = key.g;
  try {
    const Shape& xs = key.x;
    int64_t N = xs[0], C = xs[1], M = key.w[0], G = geo.groups;
    size_t nd = xs.size() - 2;
    dims y{N, M};
    for (size_t i = 0; i < nd; ++i) {
      int64_t ext = (geo.kernel[i] - 1) * geo.dilations[i] + 1;
      y.push_back((xs[2 + i] + geo.pad_begin[i] + geo.pad_end[i] - ext) / geo.strides[i] + 1);
    }
    // oneDNN's grouped weights: [G, M/G, C/G, k...], the same memory as ONNX's [M, C/G, k...].
    dims w{M, C / G};
    if (G > 1) w = {G, M / G, C / G};
    for (int64_t k : geo.kernel) w.push_back(k);
    p->x_user = key.channels_last ? dnnl::memory::desc(to_dims(xs), dt::f32, tag::acdb) : plain(to_dims(xs));
    p->y_user = key.channels_last ? dnnl::memory::desc(y, dt::f32, tag::acdb) : plain(y);
    p->w_user = plain(w);
    auto any = [](const dims& d) { return dnnl::memory::desc(d, dt::f32, tag::any); };
    if (key.bias) p->bias_md = plain(dims{M});
    dnnl::convolution_forward::desc d =
        key.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                   dnnl::algorithm::convolution_direct, any(p->x_user.dims()), any(w),
                                                   p->bias_md, any(y), to_dims(geo.strides), minus_one(geo.dilations),
                                                   to_dims(geo.pad_begin), to_dims(geo.pad_end))
                 : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                   dnnl::algorithm::convolution_direct, any(p->x_user.dims()), any(w),
                                                   any(y), to_dims(geo.strides), minus_one(geo.dilations),
                                                   to_dims(geo.pad_begin), to_dims(geo.pad_end));
    dnnl::primitive_attr attr = user_scratchpad();
    if (!act_.name.empty() || key.sum) {
      dnnl::post_ops po;
      using A = dnnl::algorithm;
      if (key.sum) po.append_sum(1.f);  // dst holds the addend when the primitive runs
      const std::string& n = act_.name;
      if (n.empty()) {
      } else if (n == "Relu") po.append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f);
      else if (n == "LeakyRelu") po.append_eltwise(1.f, A::eltwise_relu, act_.alpha, 0.f);
      else if (n == "Clip") po.append_eltwise(1.f, A::eltwise_clip_v2, act_.alpha, act_.beta);
      else if (n == "Sigmoid") po.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f);
      else if (n == "Tanh") po.append_eltwise(1.f, A::eltwise_tanh, 0.f, 0.f);
      else if (n == "HardSwish") po.append_eltwise(1.f, A::eltwise_hardswish, 0.f, 0.f);
      else {  // HardSigmoid: clip(alpha x + beta, 0, 1)
        po.append_eltwise(1.f, A::eltwise_linear, act_.alpha, act_.beta);
        po.append_eltwise(1.f, A::eltwise_clip_v2, 0.f, 1.f);
      }
      attr.set_post_ops(po);
    }
    dnnl::convolution_forward::primitive_desc pd(d, attr, dnnl_engine());
    p->x_md = pd.src_desc();
    p->y_md = pd.dst_desc();
    p->w_md = pd.weights_desc();
    p->scratch_bytes = pd.scratchpad_desc().get_size();
    p->prim = dnnl::convolution_forward(pd);
    if ((p->reorder_x = p->x_md != p->x_user)) p->x_in = make_reorder(p->x_user, p->x_md, p->scratch_bytes);
    if ((p->reorder_y = p->y_md != p->y_user)) {
      p->y_out = make_reorder(p->y_md, p->y_user, p->scratch_bytes);
      if (key.sum) p->z_in = make_reorder(p->y_user, p->y_md, p->scratch_bytes);
    }
    if (key.packed) {
      p->packed = packed_for(p->w_md);
    } else if ((p->reorder_w = p->w_md != p->w_user)) {
      p->w_in = make_reorder(p->w_user, p->w_md, p->scratch_bytes);
    }
    p->ok = true;
  } catch (const dnnl::error&) {
    p = std::make_shared<Prepared>();  // not for oneDNN: the caller's loop runs it (remembered too)
  }
  std::shared_ptr<const Prepared> made = p;
  cache_.emplace(key, made);
  order_.push_back(key);
  if (order_.size() > kMaxCached) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  return made;
}

bool DnnlConv::run(const ConvGeometry& g, const Shape& x_shape, const float* x, const Shape& w_shape,
                   const float* w, const float* bias, const Shape& y_shape, float* y, bool channels_last,
                   const float* sum) {
  if (channels_last && x_shape.size() != 4) return false;
  bool packed = w == nullptr;
  KILN_CHECK(!packed || has_packed_weights(), InternalError, "convolution run without weights");
  auto held = prepare(Key{g, x_shape, w_shape, bias != nullptr, packed, channels_last, sum != nullptr, thread_count()});
  const Prepared& p = *held;
  if (!p.ok || p.y_user.dims() != to_dims(y_shape)) return false;
  auto& eng = dnnl_engine();
  auto& strm = dnnl_stream();
  dnnl::memory xu(p.x_user, eng, const_cast<float*>(x)), yu(p.y_user, eng, y);
  dnnl::memory xm = xu, ym = yu;
  if (p.reorder_x) {
    xm = dnnl::memory(p.x_md, eng, thread_area(kX, p.x_md.get_size()));
    run_reorder(p.x_in, xu, xm, p.scratch_bytes);
  }
  if (p.reorder_y) ym = dnnl::memory(p.y_md, eng, thread_area(kY, p.y_md.get_size()));
  if (sum) {  // the sum post-op adds what dst holds
    dnnl::memory zu(p.y_user, eng, const_cast<float*>(sum));
    if (p.reorder_y) run_reorder(p.z_in, zu, ym, p.scratch_bytes);
    else if (sum != y) std::memcpy(y, sum, p.y_user.get_size());
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}};
  if (packed) {
    args.emplace(DNNL_ARG_WEIGHTS, *p.packed);
  } else {
    dnnl::memory wu(p.w_user, eng, const_cast<float*>(w));
    if (p.reorder_w) {
      dnnl::memory wm(p.w_md, eng, thread_area(kW, p.w_md.get_size()));
      run_reorder(p.w_in, wu, wm, p.scratch_bytes);
      args.emplace(DNNL_ARG_WEIGHTS, wm);
    } else {
      args.emplace(DNNL_ARG_WEIGHTS, wu);
    }
  }
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias_md, eng, const_cast<float*>(bias)));
  add_scratch(args, p.scratch_bytes);
  p.prim.execute(strm, args);
  if (p.reorder_y) run_reorder(p.y_out, ym, yu, p.scratch_bytes);
  strm.wait();
  return true;
}

bool channels_reorder_f32(const Shape& nchw, const float* src, float* dst, bool to_last) {
  try {
    dims d = to_dims(nchw);
    dnnl::memory::desc first(d, dt::f32, tag::abcd), last(d, dt::f32, tag::acdb);
    const auto& from = to_last ? first : last;
    const auto& to = to_last ? last : first;
    reorder_now(from, src, to, dst);
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

std::shared_ptr<const DnnlPool::Prepared> DnnlPool::prepare(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  auto p = std::make_shared<Prepared>();
  try {
    p->x_user = plain(to_dims(key.x));
    p->y_user = plain(to_dims(key.y));
    auto alg = key.g.max ? dnnl::algorithm::pooling_max
                      : (key.g.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                              : dnnl::algorithm::pooling_avg_exclude_padding);
    // Pooling reads and writes the dense layout directly: it is one pass over memory either way.
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, p->x_user, p->y_user,
                                     to_dims(key.g.strides), to_dims(key.g.kernel), minus_one(key.g.dilations),
                                     to_dims(key.g.pad_begin), to_dims(key.g.pad_end));
    dnnl::pooling_v2_forward::primitive_desc pd(d, user_scratchpad(), dnnl_engine());
    p->scratch_bytes = pd.scratchpad_desc().get_size();
    p->prim = dnnl::pooling_v2_forward(pd);
    p->ok = true;
  } catch (const dnnl::error&) {
    p = std::make_shared<Prepared>();
  }
  std::shared_ptr<const Prepared> made = p;
  cache_.emplace(key, made);
  order_.push_back(key);
  if (order_.size() > kMaxCached) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  return made;
}

bool DnnlPool::run(const PoolGeometry& g, const Shape& x_shape, const float* x, const Shape& y_shape, float* y) {
  auto held = prepare(Key{g, x_shape, y_shape, thread_count()});
  const Prepared& p = *held;
  if (!p.ok) return false;
  auto& eng = dnnl_engine();
  dnnl::memory xm(p.x_user, eng, const_cast<float*>(x)), ym(p.y_user, eng, y);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}};
  add_scratch(args, p.scratch_bytes);
  p.prim.execute(dnnl_stream(), args);
  dnnl_stream().wait();
  return true;
}

}  // namespace kiln::cpu
