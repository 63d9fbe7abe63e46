// MatMul (numpy matmul: batched, broadcast batch dimensions, 1-D operands) and Gemm
// (Y = alpha * op(A) * op(B) + beta * C). float32 runs through oneDNN with constant weights packed
// once when the kernel is made; the other number types run a plain reference loop.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/vec_math.h"
#include "runtime/kernels/cpu/matmul_shape.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

using dt = dnnl::memory::data_type;

template <typename T> struct Acc { using type = T; };
template <> struct Acc<Half> { using type = float; };
template <> struct Acc<BFloat16> { using type = float; };

// C (M x N) = alpha * op(A) * op(B) + (accumulate ? C : 0), plain loops over row-major data.
template <typename T>
void reference_gemm(int64_t M, int64_t K, int64_t N, const T* a, bool trans_a, const T* b, bool trans_b, T* c,
                    double alpha = 1, bool accumulate = false) {
  using A = typename Acc<T>::type;
  std::vector<A> row((size_t)N);
  for (int64_t m = 0; m < M; ++m) {
    std::fill(row.begin(), row.end(), A(0));
    for (int64_t k = 0; k < K; ++k) {
      A av = A(trans_a ? a[k * M + m] : a[m * K + k]);
      if (trans_b) {
        for (int64_t n = 0; n < N; ++n) row[n] += av * A(b[n * K + k]);
      } else {
        const T* br = b + k * N;
        for (int64_t n = 0; n < N; ++n) row[n] += av * A(br[n]);
      }
    }
    for (int64_t n = 0; n < N; ++n) {
      A v = alpha == 1 ? row[n] : A(alpha * (double)row[n]);
      if (accumulate) v = A(v + A(c[m * N + n]));
      c[m * N + n] = T(v);
    }
  }
}

// A copy of t with its last two dimensions swapped (com.microsoft FusedMatMul's transA / transB).
Tensor transpose_last2(const Tensor& t) {
  if (t.rank() < 2) return t;
  Shape s = t.shape();
  int64_t R = s[s.size() - 2], C = s.back(), mats = t.numel() / std::max<int64_t>(R * C, 1);
  std::swap(s[s.size() - 2], s.back());
  Tensor out(t.dtype(), s);
  size_t es = dtype_size(t.dtype());
  const char* src = static_cast<const char*>(t.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        std::memcpy(dst + ((m * C + c) * R + r) * es, src + ((m * R + r) * C + c) * es, es);
  return out;
}

Shape transposed_shape(Shape s) {
  if (s.size() >= 2) std::swap(s[s.size() - 2], s.back());
  return s;
}

bool is_matmul_type(DType t) {
  switch (t) {
    case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    case DType::I32: case DType::I64: case DType::U32: case DType::U64:
      return true;
    default:
      return false;
  }
}

class MatMulKernel : public OpKernel {
 public:
  explicit MatMulKernel(const KernelInfo& info) : dnnl_(dt::f32, dt::f32, dt::f32) {
    const Node& n = info.node;
    // com.microsoft FusedMatMul: alpha * op(A) x op(B). Plain MatMul has none of these attributes.
    alpha_ = n.attr_float("alpha", 1.f);
    trans_a_ = n.attr_int("transA", 0) != 0;
    trans_b_ = n.attr_int("transB", 0) != 0;
    KILN_CHECK(n.attr_int("transBatchA", 0) == 0 && n.attr_int("transBatchB", 0) == 0, Unsupported,
               "{}: transBatchA / transBatchB are not supported", n.label());
    // kiln:MatMulBias with activation "Gelu": the session's fusion of a following BiasGelu.
    std::string act = n.attr_string("activation", "");
    KILN_CHECK(act.empty() || act == "Gelu", Unsupported, "{}: activation '{}' is not supported", n.label(), act);
    gelu_ = act == "Gelu";
    const Tensor* b = info.constant(1);
    if (b && runs_as_f32(b->dtype()) && b->rank() >= 2 && b->numel() == b->dim(-1) * b->dim(-2) &&
        b->numel() > 0) {
      packed_shape_ = b->shape();
      packed_type_ = b->dtype();
      int64_t K = trans_b_ ? b->dim(-1) : b->dim(-2), N = trans_b_ ? b->dim(-2) : b->dim(-1);
      dnnl_.pack_b(b->dtype() == DType::F32 ? *b : b->cast(DType::F32), K, N, trans_b_);
    }
  }

  // float32, and the 16-bit floats (computed in float32 and rounded once at the end).
  static bool runs_as_f32(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

  void compute(KernelContext& ctx) override {
    const Tensor& a_in = ctx.input(0);
    const Tensor& b_in = ctx.input(1);
    const Node& node = ctx.node();
    // The packed constant B stands for op(B) already; other transposed operands are copied once.
    bool packed = dnnl_.has_packed_b() && b_in.shape() == packed_shape_ && b_in.dtype() == packed_type_;
    Tensor a = trans_a_ ? transpose_last2(a_in) : a_in;
    Tensor b = trans_b_ ? (packed ? b_in.reshape(transposed_shape(b_in.shape())) : transpose_last2(b_in)) : b_in;
    KILN_CHECK(a.dtype() == b.dtype(), BadModel, "{}: operands have different types ({} and {})", node.label(),
               dtype_name(a.dtype()), dtype_name(b.dtype()));
    KILN_CHECK(is_matmul_type(a.dtype()), Unsupported, "{}: MatMul of {} is not supported; cast to float first",
               node.label(), dtype_name(a.dtype()));
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    // kiln's MatMulBias (a session-time fusion of MatMul + Add): a float32 bias along the last axis.
    const float* bias = nullptr;
    if (const Tensor* bt = ctx.input_or_null(2)) {
      KILN_CHECK(bt->dtype() == DType::F32 && a.dtype() == DType::F32 && bt->numel() == d.N, BadModel,
                 "{}: the bias must be float32 with {} values", node.label(), d.N);
      bias = bt->data<float>();
    }
    // kiln:MatMulBias's residual (passes/matmul_residual_fusion.cc): added last, in the product's
    // epilogue when it has the product's shape, else afterwards with broadcasting, as the Add would.
    const Tensor* rt = ctx.input_or_null(3);
    KILN_CHECK(!rt || (rt->dtype() == DType::F32 && a.dtype() == DType::F32 && !gelu_), BadModel,
               "{}: the residual must be float32, added to a float32 product without GELU", node.label());
    const bool residual_in_epilogue = rt && rt->shape() == d.out;
    const float* residual = residual_in_epilogue ? rt->data<float>() : nullptr;
    Tensor product;
    if (rt && !residual_in_epilogue) product = Tensor(a.dtype(), d.out);
    Tensor& y = product.defined() ? product : ctx.allocate_output(0, a.dtype(), d.out);
    if (y.numel() == 0) return add_residual_after(ctx, product, rt);
    KILN_CHECK(!gelu_ || a.dtype() == DType::F32, BadModel, "{}: a GELU epilogue needs float32", node.label());
    if (d.K == 0) {
      std::memset(y.raw(), 0, y.nbytes());
      if (bias) add_bias(y.data<float>(), y.numel() / d.N, d.N, bias);
      if (gelu_) vec::gelu_erf(y.data<float>(), y.data<float>(), y.numel());
      if (residual)
        for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] += residual[i];
      return add_residual_after(ctx, product, rt);
    }
    if (runs_as_f32(a.dtype())) {
      packed = packed && shape_numel(d.b_batch) == 1;
      if (a.dtype() == DType::F32) {
        run_f32(d, a.data<float>(), packed ? nullptr : b.data<float>(), y.data<float>(), bias, residual);
        add_residual_after(ctx, product, rt);
      } else {
        Tensor a32 = a.cast(DType::F32), y32(DType::F32, d.out);
        Tensor b32 = packed ? Tensor() : b.cast(DType::F32);
        run_f32(d, a32.data<float>(), packed ? nullptr : b32.data<float>(), y32.data<float>());
        ctx.set_output(0, y32.cast(a.dtype()));
      }
      return;
    }
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> ||
                    std::is_same_v<T, int16_t> || std::is_same_v<T, uint16_t>) {
        return;
      } else {
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* py = y.data<T>();
        for_each_batch(d, [&](int64_t o, int64_t ia, int64_t ib) {
          reference_gemm<T>(d.M, d.K, d.N, pa + ia * d.M * d.K, false, pb + ib * d.K * d.N, false,
                            py + o * d.M * d.N, alpha_);
        });
      }
    });
  }

 private:
  static void add_bias(float* y, int64_t rows, int64_t N, const float* bias) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) y[r * N + n] += bias[n];
  }

  // The product was made into `product` (a residual that broadcasts to a larger shape): the output
  // is product + r, broadcast, as the fused Add computed it. Nothing to do otherwise.
  static void add_residual_after(KernelContext& ctx, const Tensor& product, const Tensor* r) {
    if (!product.defined()) return;
    const Shape out = broadcast_shapes({product.shape(), r->shape()}, ctx.node());
    Tensor& y = ctx.allocate_output(0, DType::F32, out);
    const float* p = product.data<float>();
    const float* rp = r->data<float>();
    float* yp = y.data<float>();
    for_each_broadcast2(product.shape(), r->shape(), out, [&](int64_t o, int64_t i, int64_t j) { yp[o] = p[i] + rp[j]; });
  }

  // pb null: the packed constant B. bias (N values) is added in the product's epilogue where it can
  // be, then residual (as many values as the output).
  void run_f32(const MatMulDims& d, const float* pa, const float* pb, float* py, const float* bias = nullptr,
               const float* residual = nullptr) {
    int64_t nb_a = shape_numel(d.a_batch), nb_b = shape_numel(d.b_batch), nb = shape_numel(d.batch);
    if (nb_b == 1) {
      // One weight matrix: fold A's batch into its rows (the transformer case: [B, S, K] x [K, N]).
      // The packed B was laid out from its stored (possibly transposed) form.
      MatMulShape s{1, nb_a * d.M, d.K, d.N, false, pb == nullptr && trans_b_};
      dnnl_.run(s, pa, pb, py, alpha_, false, bias, gelu_, residual);
      return;
    } else if (nb_a == nb && nb_b == nb) {
      dnnl_.run(MatMulShape{nb, d.M, d.K, d.N}, pa, pb, py, alpha_);
    } else {
      MatMulShape s{1, d.M, d.K, d.N};
      for_each_batch(d, [&](int64_t o, int64_t ia, int64_t ib) {
        dnnl_.run(s, pa + ia * d.M * d.K, pb + ib * d.K * d.N, py + o * d.M * d.N, alpha_);
      });
    }
    if (bias) add_bias(py, nb * d.M, d.N, bias);
    if (gelu_) vec::gelu_erf(py, py, nb * d.M * d.N);
    if (residual)
      for (int64_t i = 0; i < nb * d.M * d.N; ++i) py[i] += residual[i];
  }

  float alpha_ = 1.f;
  bool trans_a_ = false, trans_b_ = false, gelu_ = false;
  DnnlMatMul dnnl_;
  Shape packed_shape_;
  DType packed_type_ = DType::Undefined;
};

class GemmKernel : public OpKernel {
 public:
  explicit GemmKernel(const KernelInfo& info) : dnnl_(dt::f32, dt::f32, dt::f32) {
    const Node& n = info.node;
    alpha_ = n.attr_float("alpha", 1.f);
    beta_ = n.attr_float("beta", 1.f);
    trans_a_ = n.attr_int("transA", 0) != 0;
    trans_b_ = n.attr_int("transB", 0) != 0;
    // com.microsoft FusedGemm: an activation applied to the result.
    activation_ = n.attr_string("activation", "");
    act_alpha_ = n.attr_float("activation_alpha", n.attr_float("leaky_relu_alpha", activation_ == "HardSigmoid" ? 0.2f : 0.01f));
    act_beta_ = n.attr_float("activation_beta", 0.5f);
    KILN_CHECK(activation_.empty() || activation_ == "Relu" || activation_ == "LeakyRelu" || activation_ == "Tanh" ||
                   activation_ == "Sigmoid" || activation_ == "HardSigmoid",
               Unsupported, "{}: activation '{}' is not supported (Relu, LeakyRelu, Tanh, Sigmoid, HardSigmoid are)",
               n.label(), activation_);
    const Tensor* b = info.constant(1);
    if (b && b->dtype() == DType::F32 && b->rank() == 2 && b->numel() > 0) {
      int64_t K = trans_b_ ? b->dim(1) : b->dim(0), N = trans_b_ ? b->dim(0) : b->dim(1);
      packed_shape_ = b->shape();
      dnnl_.pack_b(*b, K, N, trans_b_);
    }
  }

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor* c = ctx.input_or_null(2);
    const Node& node = ctx.node();
    KILN_CHECK(a.rank() == 2 && b.rank() == 2, BadInput, "{}: Gemm needs 2-D A and B, got {} and {}", node.label(),
               shape_str(a.shape()), shape_str(b.shape()));
    KILN_CHECK(a.dtype() == b.dtype() && (!c || c->dtype() == a.dtype()), BadModel,
               "{}: Gemm operands must have one type", node.label());
    KILN_CHECK(is_matmul_type(a.dtype()), Unsupported, "{}: Gemm of {} is not supported; cast to float first",
               node.label(), dtype_name(a.dtype()));
    int64_t M = trans_a_ ? a.dim(1) : a.dim(0), K = trans_a_ ? a.dim(0) : a.dim(1);
    int64_t KB = trans_b_ ? b.dim(1) : b.dim(0), N = trans_b_ ? b.dim(0) : b.dim(1);
    KILN_CHECK(K == KB, BadInput, "{}: cannot multiply {}{} by {}{} (inner dimensions {} and {} differ)",
               node.label(), shape_str(a.shape()), trans_a_ ? "ᵀ" : "", shape_str(b.shape()), trans_b_ ? "ᵀ" : "", K,
               KB);
    Shape out{M, N};
    if (c) {
      Shape bc = broadcast_shapes({c->shape(), out}, node);
      KILN_CHECK(bc == out, BadInput, "{}: C of shape {} does not broadcast to the output {}", node.label(),
                 shape_str(c->shape()), shape_str(out));
    }
    Tensor& y = ctx.allocate_output(0, a.dtype(), out);
    if (y.numel() == 0) return;
    bool add_c = c && beta_ != 0.f && c->numel() > 0;
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> ||
                    std::is_same_v<T, int16_t> || std::is_same_v<T, uint16_t>) {
        return;
      } else {
        T* py = y.data<T>();
        if (add_c) {
          const T* pc = c->data<T>();
          for_each_broadcast2(c->shape(), c->shape(), out, [&](int64_t o, int64_t i, int64_t) {
            py[o] = beta_ == 1.f ? pc[i] : T((double)beta_ * (double)pc[i]);
          });
        } else if (K == 0) {
          std::memset(static_cast<void*>(py), 0, y.nbytes());  // all-zero bits are 0 for every T here
        }
        if (K == 0) return;
        if constexpr (std::is_same_v<T, float>) {
          bool use_packed = dnnl_.has_packed_b() && b.shape() == packed_shape_;
          dnnl_.run(MatMulShape{1, M, K, N, trans_a_, trans_b_}, a.data<float>(),
                    use_packed ? nullptr : b.data<float>(), py, alpha_, add_c);
        } else {
          reference_gemm<T>(M, K, N, a.data<T>(), trans_a_, b.data<T>(), trans_b_, py, alpha_, add_c);
        }
      }
    });
    if (!activation_.empty()) activate(node, y);
  }

  void activate(const Node& node, Tensor& y) const {
    KILN_CHECK(y.dtype() == DType::F32, Unsupported, "{}: activations run on float32 only", node.label());
    float* p = y.data<float>();
    float a = act_alpha_, b = act_beta_;
    for (int64_t i = 0; i < y.numel(); ++i) {
      float v = p[i];
      if (activation_ == "Relu") v = v > 0.f ? v : 0.f;
      else if (activation_ == "LeakyRelu") v = v >= 0.f ? v : a * v;
      else if (activation_ == "Tanh") v = std::tanh(v);
      else if (activation_ == "Sigmoid") v = 1.f / (1.f + std::exp(-v));
      else v = std::max(0.f, std::min(1.f, a * v + b));  // HardSigmoid
      p[i] = v;
    }
  }

 private:
  float alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
  std::string activation_;
  float act_alpha_ = 0.01f, act_beta_ = 0.5f;
  DnnlMatMul dnnl_;
  Shape packed_shape_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_matmul_kernels) {
  r.add({DeviceType::Cpu, "", "MatMul", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MatMulKernel>(info); });
  r.add({DeviceType::Cpu, "", "Gemm", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<GemmKernel>(info); });
  // ONNX Runtime's fused forms (its graph optimizer writes them into saved optimized models).
  r.add({DeviceType::Cpu, "com.microsoft", "FusedMatMul", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MatMulKernel>(info); });
  // kiln's own MatMul + bias (+ GELU) (written only by the session's fusion passes, never saved).
  r.add({DeviceType::Cpu, "kiln", "MatMulBias", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MatMulKernel>(info); });
  r.add({DeviceType::Cpu, "com.microsoft", "FusedGemm", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<GemmKernel>(info); });
}

}  // namespace kiln::cpu
