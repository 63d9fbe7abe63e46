// MatMul (numpy matmul: batched, broadcast batch dimensions, 1-D operands) and Gemm
// (Y = alpha * op(A) * op(B) + beta * C). float32 runs through oneDNN with constant weights packed
// once when the kernel is made; the other number types run a plain reference loop.
#include <memory>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/dnnl_util.h"
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
    const Tensor* b = info.constant(1);
    if (b && runs_as_f32(b->dtype()) && b->rank() >= 2 && b->numel() == b->dim(-1) * b->dim(-2) &&
        b->numel() > 0) {
      packed_shape_ = b->shape();
      packed_type_ = b->dtype();
      dnnl_.pack_b(b->dtype() == DType::F32 ? *b : b->cast(DType::F32), b->dim(-2), b->dim(-1), false);
    }
  }

  // float32, and the 16-bit floats (computed in float32 and rounded once at the end).
  static bool runs_as_f32(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Node& node = ctx.node();
    KILN_CHECK(a.dtype() == b.dtype(), BadModel, "{}: operands have different types ({} and {})", node.label(),
               dtype_name(a.dtype()), dtype_name(b.dtype()));
    KILN_CHECK(is_matmul_type(a.dtype()), Unsupported, "{}: MatMul of {} is not supported; cast to float first",
               node.label(), dtype_name(a.dtype()));
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    Tensor& y = ctx.allocate_output(0, a.dtype(), d.out);
    if (y.numel() == 0) return;
    if (d.K == 0) {
      std::memset(y.raw(), 0, y.nbytes());
      return;
    }
    if (runs_as_f32(a.dtype())) {
      bool packed = dnnl_.has_packed_b() && b.shape() == packed_shape_ && b.dtype() == packed_type_ &&
                    shape_numel(d.b_batch) == 1;
      if (a.dtype() == DType::F32) {
        run_f32(d, a.data<float>(), packed ? nullptr : b.data<float>(), y.data<float>());
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
                            py + o * d.M * d.N);
        });
      }
    });
  }

 private:
  // pb null: the packed constant B.
  void run_f32(const MatMulDims& d, const float* pa, const float* pb, float* py) {
    int64_t nb_a = shape_numel(d.a_batch), nb_b = shape_numel(d.b_batch), nb = shape_numel(d.batch);
    if (nb_b == 1) {
      // One weight matrix: fold A's batch into its rows (the transformer case: [B, S, K] x [K, N]).
      MatMulShape s{1, nb_a * d.M, d.K, d.N};
      dnnl_.run(s, pa, pb, py);
    } else if (nb_a == nb && nb_b == nb) {
      dnnl_.run(MatMulShape{nb, d.M, d.K, d.N}, pa, pb, py);
    } else {
      MatMulShape s{1, d.M, d.K, d.N};
      for_each_batch(d, [&](int64_t o, int64_t ia, int64_t ib) {
        dnnl_.run(s, pa + ia * d.M * d.K, pb + ib * d.K * d.N, py + o * d.M * d.N);
      });
    }
  }

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
          std::memset(py, 0, y.nbytes());
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
  }

 private:
  float alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
  DnnlMatMul dnnl_;
  Shape packed_shape_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_matmul_kernels) {
  r.add({DeviceType::Cpu, "", "MatMul", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MatMulKernel>(info); });
  r.add({DeviceType::Cpu, "", "Gemm", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<GemmKernel>(info); });
}

}  // namespace kiln::cpu
