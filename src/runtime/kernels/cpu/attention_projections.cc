#include "runtime/kernels/cpu/attention_projections.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/kernels/cpu/row_tiles.h"

namespace kiln::cpu {

namespace {

constexpr size_t kInt8Inputs = 18, kFloatInputs = 10;

}  // namespace

AttentionProjections::AttentionProjections(const KernelInfo& info, size_t first)
    : first_(first), int8_(info.node.inputs.size() == first + kInt8Inputs) {
  const Node& n = info.node;
  a_row_tiles_ = int8_ && n.attr_int("row_tiles", 1) != 0;
  KILN_CHECK(int8_ || n.inputs.size() == first + kFloatInputs, BadModel,
             "{}: attribute projections must name the first of the node's last {} (int8) or {} (float) inputs",
             n.label(), kInt8Inputs, kFloatInputs);
  for (size_t p = 0; p < 3; ++p) {
    const size_t at = int8_ ? first + 3 + 5 * p : first + 1 + 3 * p;
    const Tensor* w = info.constant(at);
    const bool ok = w && w->rank() == 2 && w->numel() > 0 &&
                    (int8_ ? w->dtype() == DType::U8 || w->dtype() == DType::I8 : w->dtype() == DType::F32);
    KILN_CHECK(ok, BadModel, "{}: the {} projection needs a constant 2-D {} weight", n.label(), "qkv"[p],
               int8_ ? "8-bit" : "float32");
    Product& pr = products_[p];
    pr.K = w->dim(0);
    pr.N = w->dim(1);
    if (int8_) {
      pr.int8 = std::make_unique<Int8Gemm>();
      pr.int8->set_constant_b(*w, pr.K, pr.N);
    } else {
      pr.f32 = std::make_unique<DnnlMatMul>(dnnl::memory::data_type::f32, dnnl::memory::data_type::f32,
                                            dnnl::memory::data_type::f32);
      pr.f32->pack_b(*w, pr.K, pr.N, false);
    }
  }
}

AttentionProjections::Run::Run(AttentionProjections& p, KernelContext& ctx) : p_(p) {
  const Node& node = ctx.node();
  const size_t first = p.first_;
  const Tensor& a = ctx.input(first);
  KILN_CHECK(a.dtype() == (p.int8_ ? DType::U8 : DType::F32) && a.rank() >= 1, Unsupported,
             "{}: the projections' input must be {}, got {}", node.label(), p.int8_ ? "uint8" : "float32",
             dtype_name(a.dtype()));
  K_ = a.dim(-1);
  M_ = K_ > 0 ? a.numel() / K_ : 0;
  // This thread's lists, kept across runs.
  thread_local std::vector<int32_t> tls_za;
  thread_local std::array<std::vector<float>, 3> tls_bsc, tls_bias;
  thread_local std::array<std::vector<int32_t>, 3> tls_zb;
  za_ = &tls_za;
  bsc_ = &tls_bsc;
  bias_ = &tls_bias;
  zb_ = &tls_zb;
  tls_za.clear();
  if (p.int8_) {
    const Tensor& as = ctx.input(first + 1);
    KILN_CHECK(as.numel() == 1, Unsupported, "{}: the projections' a_scale must be one value", node.label());
    a_scale_ = (float)as.item_f64(0);
    if (const Tensor* z = ctx.input_or_null(first + 2)) {
      KILN_CHECK(z->numel() == 1, Unsupported, "{}: the projections' a_zero_point must be one value", node.label());
      tls_za.push_back((int32_t)z->item_i64(0));
    }
  }
  rows_map_ = true;
  tiles_ = p.a_row_tiles_;
  for (size_t i = 0; i < 3; ++i) {
    const Product& pr = p.products_[i];
    const size_t at = p.int8_ ? first + 3 + 5 * i : first + 1 + 3 * i;
    KILN_CHECK(pr.K == K_, BadInput, "{}: the projections' input has {} columns where the {} weight has {} rows",
               node.label(), K_, "qkv"[i], pr.K);
    tls_bsc[i].clear();
    tls_zb[i].clear();
    if (p.int8_) {
      float_values(ctx.input(at + 1), tls_bsc[i]);
      KILN_CHECK(tls_bsc[i].size() == 1 || (int64_t)tls_bsc[i].size() == pr.N, Unsupported,
                 "{}: the {} projection's b_scale must have 1 or {} values", node.label(), "qkv"[i], pr.N);
      if (const Tensor* z = ctx.input_or_null(at + 2)) {
        KILN_CHECK(z->numel() == 1 || z->numel() == pr.N, Unsupported,
                   "{}: the {} projection's b_zero_point must have 1 or {} values", node.label(), "qkv"[i], pr.N);
        tls_zb[i].resize((size_t)z->numel());
        for (int64_t j = 0; j < z->numel(); ++j) tls_zb[i][(size_t)j] = (int32_t)z->item_i64(j);
      }
      tiles_ = tiles_ && pr.int8->takes_row_tiles(K_, pr.N, false);
    }
    const size_t bias_at = p.int8_ ? at + 3 : at + 1, shape_at = bias_at + 1;
    tls_bias[i].clear();
    if (const Tensor* b = ctx.input_or_null(bias_at)) {
      float_values(*b, tls_bias[i]);
      KILN_CHECK((int64_t)tls_bias[i].size() == pr.N, BadInput, "{}: the {} projection's bias must have {} values",
                 node.label(), "qkv"[i], pr.N);
    }
    Shape out = a.shape();
    out.back() = pr.N;
    views_[i] = reshape_target(out, read_ints(ctx.input(shape_at), node, "shape"), false, node);
    const Shape& v = views_[i];
    rows_map_ = rows_map_ && v.size() == 4 && v[0] > 0 && v[0] * v[1] == M_ && v[2] * v[3] == pr.N;
  }
  per_ = rows_map_ ? M_ / views_[0][0] : M_;
  thread_local std::vector<std::array<Tensor, 3>> tls_windows;
  windows_ = &tls_windows;
  slots_ = std::max<int64_t>(1, std::min<int64_t>(thread_count(), batch()));
  tls_windows.resize((size_t)slots_);
  // A sequence's block may begin up to 11 rows before it and end up to 11 rows after (row tiles).
  const int64_t held = rows_map_ ? per_ + 2 * kTileRows : M_;
  for (auto& w : tls_windows)
    for (size_t i = 0; i < 3; ++i) w[i] = Tensor(DType::F32, {held, p.products_[i].N});
  a_ = a.raw();
  // A in row tiles as the VNNI product reads them; where this CPU's product does not (a lower ISA
  // forced after the session was made), rearranged back once.
  if (p.a_row_tiles_ && !tiles_ && M_ > 0) {
    a_rows_ = Tensor(DType::U8, a.shape());
    from_row_tiles(a.data<uint8_t>(), M_, K_, a_rows_.data<uint8_t>());
    a_ = a_rows_.raw();
  }
}

void AttentionProjections::Run::make(size_t p, int64_t r0, int64_t r1, float* out) const {
  Product& pr = p_.products_[p];
  const std::vector<float>& bias = (*bias_)[p];
  if (pr.f32) {
    const float* a = static_cast<const float*>(a_) + r0 * K_;
    pr.f32->run(MatMulShape{1, r1 - r0, K_, pr.N}, a, nullptr, out, 1.f, false, bias.empty() ? nullptr : bias.data());
    return;
  }
  const std::vector<float>& bsc = (*bsc_)[p];
  Dequant dq{a_scale_, bsc.data(), (int64_t)bsc.size(), bias.empty() ? nullptr : bias.data()};
  dq.a_row_tiles = tiles_;
  // Row tiles: r0 is a multiple of 12 (Window), so rows r0.. start a tile, r0 * K bytes in.
  const uint8_t* a = static_cast<const uint8_t*>(a_) + r0 * K_;
  pr.int8->run_float(r1 - r0, K_, pr.N, a, false, *za_, nullptr, false, (*zb_)[p], dq, out);
}

AttentionProjections::Run::~Run() {
  for (auto& w : *windows_) w = {};  // back to the buffer cache
}

// parallel_for gives chunk t of `slots_` the sequences from B t / slots_ on: t from its start.
AttentionProjections::Run::Window::Window(const Run& run, int64_t first)
    : run_(run),
      rows_((*run.windows_)[(size_t)(run.slots_ == 1 ? 0 : (first * run.slots_ + run.batch() - 1) / run.batch())]) {}

std::array<const float*, 3> AttentionProjections::Run::Window::operator()(int64_t b) {
  const Run& r = run_;
  // Row tiles start every 12 rows: a block begins and ends on a tile's boundary (or at M), so it may
  // hold rows of the sequences beside this one. Float rows have no such boundary.
  const int64_t align = r.tiles_ ? kTileRows : 1;
  const int64_t first = r.rows_map_ ? b * r.per_ : 0;
  if (!started_) {
    w0_ = done_ = first / align * align;
    started_ = true;
  } else if (first > w0_) {
    // This sequence's rows made with the previous one's block go to the window's start.
    for (size_t p = 0; p < 3; ++p) {
      const int64_t n = r.p_.products_[p].N;
      float* w = rows_[p].data<float>();
      std::memmove(w, w + (first - w0_) * n, (size_t)((done_ - first) * n) * sizeof(float));
    }
    w0_ = first;
  }
  const int64_t to = r.rows_map_ ? std::min(r.M_, (first + r.per_ + align - 1) / align * align) : r.M_;
  if (to > done_) {
    for (size_t p = 0; p < 3; ++p) r.make(p, done_, to, rows_[p].data<float>() + (done_ - w0_) * r.p_.products_[p].N);
    done_ = to;
  }
  std::array<const float*, 3> at;
  for (size_t p = 0; p < 3; ++p) {
    const Shape& v = r.views_[p];
    const int64_t skip = r.rows_map_ ? (first - w0_) * r.p_.products_[p].N : b * v[1] * v[2] * v[3];
    at[p] = rows_[p].data<float>() + skip;
  }
  return at;
}

}  // namespace kiln::cpu
