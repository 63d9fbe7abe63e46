#include "runtime/kernels/cpu/quant_gemm.h"

#include <cmath>
#include <cstring>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/quant_simd.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/kernels/cpu/vec_math.h"

namespace kiln::cpu {

using dt = dnnl::memory::data_type;

Int8Path default_int8_path() {
  static const Int8Path p = amx_gemm_supported()    ? Int8Path::Amx
                            : vnni_gemm_supported() ? Int8Path::Vnni
                                                    : Int8Path::DnnlF32;
  return p;
}

Int8Gemm::Int8Gemm(Int8Path path) : path_(path) {}
Int8Gemm::~Int8Gemm() = default;

namespace {

// B as int8 (u8 values shifted down by 128) and its column sums.
void to_s8(const void* b, bool b_signed, int64_t K, int64_t N, int8_t* out, int32_t* colsum) {
  const uint8_t* src = static_cast<const uint8_t*>(b);
  for (int64_t n = 0; n < N; ++n) colsum[n] = 0;
  for (int64_t k = 0; k < K; ++k) {
    const uint8_t* row = src + k * N;
    int8_t* o = out + k * N;
    for (int64_t n = 0; n < N; ++n) {
      int8_t v = b_signed ? (int8_t)row[n] : (int8_t)(row[n] ^ 0x80);
      o[n] = v;
      colsum[n] += v;
    }
  }
}

bool any_nonzero(const std::vector<int32_t>& v) {
  for (int32_t x : v)
    if (x) return true;
  return false;
}

template <typename T>
std::vector<T>& scratch() {
  thread_local std::vector<T> buf;
  return buf;
}

}  // namespace

void Int8Gemm::set_constant_b(const Tensor& b, int64_t K, int64_t N) {
  KILN_CHECK(b.dtype() == DType::U8 || b.dtype() == DType::I8, InternalError, "Int8Gemm: B must be 8-bit");
  const_k_ = K;
  const_n_ = N;
  const_signed_ = b.dtype() == DType::I8;
  const_s8_ = Tensor(DType::I8, {K, N});
  const_colsum_.assign((size_t)N, 0);
  to_s8(b.raw(), const_signed_, K, N, const_s8_.data<int8_t>(), const_colsum_.data());
  const_colterm0_.resize((size_t)N);
  for (int64_t n = 0; n < N; ++n) const_colterm0_[n] = -const_colsum_[n];
  if (path_ == Int8Path::Vnni || path_ == Int8Path::Amx) {
    const_vnni_ = vnni_pack_b(const_s8_.data<int8_t>(), K, N);
  } else if (path_ == Int8Path::DnnlInt8) {
    u8_ = std::make_unique<DnnlMatMul>(dt::u8, dt::s8, dt::s32);
    u8_->pack_b(const_s8_, K, N, false);
  } else if (path_ == Int8Path::DnnlF32) {
    const_f32_ = const_s8_.cast(DType::F32);
    f32_ = std::make_unique<DnnlMatMul>(dt::f32, dt::f32, dt::f32);
    f32_->pack_b(const_f32_, K, N, false);
  }
}

void Int8Gemm::raw_product(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const BView& b,
                           bool constant, int32_t* acc) {
  switch (path_) {
    case Int8Path::Vnni:  // operands the packed kernels do not take
    case Int8Path::Amx:
    case Int8Path::DnnlInt8: {
      DnnlMatMul* mm;
      {
        std::lock_guard<std::mutex> lock(lazy_mu_);
        auto& slot = a_signed ? s8_ : u8_;
        if (!slot) {
          slot = std::make_unique<DnnlMatMul>(a_signed ? dt::s8 : dt::u8, dt::s8, dt::s32);
          if (has_constant_b()) slot->pack_b(const_s8_, const_k_, const_n_, false);
        }
        mm = slot.get();
      }
      mm->run(MatMulShape{1, M, K, N}, a, constant ? nullptr : b.s8, acc);
      return;
    }
    case Int8Path::DnnlF32: {
      auto& af = scratch<float>();
      af.resize((size_t)(M * K + M * N));
      if (a_signed)
        for (int64_t i = 0; i < M * K; ++i) af[i] = (float)static_cast<const int8_t*>(a)[i];
      else
        for (int64_t i = 0; i < M * K; ++i) af[i] = (float)static_cast<const uint8_t*>(a)[i];
      float* cf = af.data() + M * K;
      DnnlMatMul* mm;
      {
        std::lock_guard<std::mutex> lock(lazy_mu_);
        if (!f32_) f32_ = std::make_unique<DnnlMatMul>(dt::f32, dt::f32, dt::f32);
        mm = f32_.get();
      }
      if (constant) {
        mm->run(MatMulShape{1, M, K, N}, af.data(), nullptr, cf);
      } else {
        std::vector<float> bf((size_t)(K * N));
        for (int64_t i = 0; i < K * N; ++i) bf[i] = (float)b.s8[i];
        mm->run(MatMulShape{1, M, K, N}, af.data(), bf.data(), cf);
      }
      for (int64_t i = 0; i < M * N; ++i) acc[i] = (int32_t)std::lrint(cf[i]);
      return;
    }
    case Int8Path::Reference: {
      for (int64_t m = 0; m < M; ++m) {
        int32_t* row = acc + m * N;
        std::fill(row, row + N, 0);
        for (int64_t k = 0; k < K; ++k) {
          int32_t av = a_signed ? static_cast<const int8_t*>(a)[m * K + k] : static_cast<const uint8_t*>(a)[m * K + k];
          const int8_t* br = b.s8 + k * N;
          for (int64_t n = 0; n < N; ++n) row[n] += av * br[n];
        }
      }
      return;
    }
  }
}

// acc[m][n] = raw - za_m * colsum_n - zbe_n * rowsum_m + K * za_m * zbe_n, then out(m, n, acc).
template <typename Finish>
void Int8Gemm::product(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                       const void* b, bool b_signed, const std::vector<int32_t>& zb, int32_t* acc, Finish&& finish) {
  bool constant = b == nullptr;
  KILN_CHECK(!constant || (has_constant_b() && K == const_k_ && N == const_n_), InternalError,
             "Int8Gemm: constant B used with another shape");
  KILN_CHECK(za.size() <= 1 || (int64_t)za.size() == M, InternalError, "Int8Gemm: a zero points");
  KILN_CHECK(zb.size() <= 1 || (int64_t)zb.size() == N, InternalError, "Int8Gemm: b zero points");
  BView bv{};
  std::vector<int8_t> b_tmp;
  std::vector<int32_t> colsum_tmp;
  if (constant) {
    bv = BView{const_s8_.data<int8_t>(), const_colsum_.data(), nullptr, const_signed_ ? 0 : 128};
  } else {
    b_tmp.resize((size_t)(K * N));
    colsum_tmp.resize((size_t)N);
    to_s8(b, b_signed, K, N, b_tmp.data(), colsum_tmp.data());
    bv = BView{b_tmp.data(), colsum_tmp.data(), nullptr, b_signed ? 0 : 128};
  }
  // Zero points of B against its s8 form.
  std::vector<int32_t> zbe((size_t)N);
  for (int64_t n = 0; n < N; ++n) zbe[n] = (zb.empty() ? 0 : zb.size() == 1 ? zb[0] : zb[n]) - bv.shift;
  bool need_rowsum = false;
  for (int32_t z : zbe) need_rowsum |= z != 0;
  bool have_za = any_nonzero(za);

  auto& accbuf = scratch<int32_t>();
  accbuf.resize((size_t)(acc ? M : M * N + M));
  int32_t* rowsum = accbuf.data();
  if (!acc) acc = accbuf.data() + M;
  raw_product(M, K, N, a, a_signed, bv, constant, acc);
  if (need_rowsum) {
    for (int64_t m = 0; m < M; ++m) {
      int32_t s = 0;
      if (a_signed)
        for (int64_t k = 0; k < K; ++k) s += static_cast<const int8_t*>(a)[m * K + k];
      else
        for (int64_t k = 0; k < K; ++k) s += static_cast<const uint8_t*>(a)[m * K + k];
      rowsum[m] = s;
    }
  }
  // K * zb_n - colsum_n: what a row's zero point multiplies.
  std::vector<int32_t> colterm((size_t)N);
  for (int64_t n = 0; n < N; ++n) colterm[n] = (int32_t)K * zbe[n] - bv.colsum[n];
  const QuantKernels& qk = quant_kernels();
  parallel_for(M, N * 2, [&](long m0, long m1) {
    for (long m = m0; m < m1; ++m) {
      int32_t zam = za.empty() ? 0 : za.size() == 1 ? za[0] : za[m];
      int32_t* r = acc + m * N;
      if (have_za || need_rowsum) qk.correct_row(r, colterm.data(), zbe.data(), zam, need_rowsum ? rowsum[m] : 0, N);
      finish(m, r);
    }
  });
}

bool Int8Gemm::run_vnni(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                        const void* b, const std::vector<int32_t>& zb, const float* scale, const float* bias, bool gelu,
                        const float* residual, ValueRange* range, float* y, int32_t* c, bool a_row_tiles) {
  if ((path_ != Int8Path::Vnni && path_ != Int8Path::Amx) || b != nullptr || a_signed || !has_constant_b() ||
      K != const_k_ || N != const_n_)
    return false;
  KILN_CHECK(!a_row_tiles || row_tiles_fit(K), InternalError, "Int8Gemm: row tiles with K = {}", K);
  KILN_CHECK(za.size() <= 1 || (int64_t)za.size() == M, InternalError, "Int8Gemm: a zero points");
  KILN_CHECK(zb.size() <= 1 || (int64_t)zb.size() == N, InternalError, "Int8Gemm: b zero points");
  // Zero points of B against its s8 form (u8 B was shifted down by 128), and what a row's zero
  // point multiplies: K * zb_n - colsum_n.
  // Where every zero point of B equals the shift (s8 weights without one, u8 weights at 128), both
  // are known from the weights alone: zbe = 0, colterm = -colsum (made in set_constant_b).
  const int32_t shift = const_signed_ ? 0 : 128;
  bool any_zb = zb.empty() ? shift != 0 : false;
  for (int32_t z : zb) any_zb |= z != shift;
  // This thread's lists, kept across runs; used through references (a thread_local named in a
  // lambda on a worker thread would be that thread's own).
  thread_local std::vector<int32_t> tls_zbe, tls_colterm;
  std::vector<int32_t>& zbe = tls_zbe;
  std::vector<int32_t>& colterm = tls_colterm;
  if (any_zb) {
    zbe.resize((size_t)N);
    colterm.resize((size_t)N);
    for (int64_t n = 0; n < N; ++n) {
      zbe[n] = (zb.empty() ? 0 : zb.size() == 1 ? zb[0] : zb[n]) - shift;
      colterm[n] = (int32_t)K * zbe[n] - const_colsum_[n];
    }
  }
  VnniEpilogue e;
  e.za = za.data();
  e.za_count = (int64_t)za.size();
  e.colterm = any_zb ? colterm.data() : const_colterm0_.data();
  e.zb = any_zb ? zbe.data() : nullptr;
  e.scale = scale;
  e.bias = bias;
  e.gelu = gelu;
  e.range = range;
  e.residual = residual;
  e.out_f32 = y;
  e.out_i32 = c;
  vnni_gemm(M, static_cast<const uint8_t*>(a), K, const_vnni_, e, a_row_tiles, path_ == Int8Path::Amx);
  return true;
}

bool Int8Gemm::takes_row_tiles(int64_t K, int64_t N, bool a_signed) const {
  return path_ == Int8Path::Vnni && !a_signed && has_constant_b() && K == const_k_ && N == const_n_ &&
         row_tiles_fit(K);
}

void Int8Gemm::run(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                   const void* b, bool b_signed, const std::vector<int32_t>& zb, int32_t* c) {
  if (run_vnni(M, K, N, a, a_signed, za, b, zb, nullptr, nullptr, false, nullptr, nullptr, nullptr, c)) return;
  // The raw product lands in c and is corrected in place.
  product(M, K, N, a, a_signed, za, b, b_signed, zb, c, [](int64_t, int32_t*) {});
}

void Int8Gemm::run_float(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                         const void* b, bool b_signed, const std::vector<int32_t>& zb, const Dequant& dq, float* y) {
  thread_local std::vector<float> tls_scale;  // this thread's, kept across runs (see run_vnni)
  std::vector<float>& scale_list = tls_scale;
  scale_list.resize((size_t)N);
  float* scale = scale_list.data();
  for (int64_t n = 0; n < N; ++n) scale[n] = dq.a_scale * dq.b_scale[dq.b_scale_count == 1 ? 0 : n];
  if (run_vnni(M, K, N, a, a_signed, za, b, zb, scale, dq.bias, dq.gelu, dq.residual, dq.range, y, nullptr,
               dq.a_row_tiles))
    return;
  KILN_CHECK(!dq.a_row_tiles, InternalError, "Int8Gemm: A in row tiles where the product does not take them");
  const QuantKernels& qk = quant_kernels();
  product(M, K, N, a, a_signed, za, b, b_signed, zb, nullptr,
          [&](int64_t m, int32_t* row) {
            qk.dequant_row(row, scale, dq.bias, y + m * N, N);
            if (dq.gelu) vec::gelu_erf(y + m * N, y + m * N, N);
            if (dq.residual) {
              float* row_y = y + m * N;
              const float* row_r = dq.residual + m * N;
              for (int64_t n = 0; n < N; ++n) row_y[n] = row_y[n] + row_r[n];
            }
            if (dq.range && N > 0) {
              float lo, hi;
              qk.min_max(y + m * N, N, &lo, &hi);
              dq.range->merge(lo, hi);
            }
          });
}

}  // namespace kiln::cpu
