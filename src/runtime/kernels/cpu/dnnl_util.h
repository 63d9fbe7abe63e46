// oneDNN glue for the CPU kernels: the process's engine, a stream per calling thread, and a matrix
// product whose primitives are created once per shape and whose constant weights are re-laid out
// ("pre-packed") once into the format the primitive prefers. Kernels never talk to oneDNN directly.
#pragma once
#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"
#include "runtime/kernels/cpu/sgemm_packed.h"

namespace kiln::cpu {

dnnl::engine& dnnl_engine();
// oneDNN streams are not meant to be shared between threads that execute at the same time, so each
// thread that runs a kernel gets its own, made once.
dnnl::stream& dnnl_stream();

// The shape of one product: C[b] (M x N) = op(A[b]) (M x K) * op(B[b]) (K x N) for b < batch, all
// dense row-major; trans_a means A is stored K x M, trans_b means B is stored N x K.
struct MatMulShape {
  int64_t batch = 1, M = 0, K = 0, N = 0;
  bool trans_a = false, trans_b = false;
  auto operator<=>(const MatMulShape&) const = default;
};

// A matrix product of fixed element types by oneDNN (f32 x f32 -> f32, or u8/s8 x s8 -> s32).
// Float products with K above kChunkK run as K-chunks of kChunkK, the first writing C and the rest
// adding into it (bias and GELU with the last): oneDNN's kernels otherwise carry all of K in one
// register sum, whose rounding error grows with K; a blocked sum stays as accurate as ONNX Runtime's
// (MLAS blocks K the same way), which matters where a softmax amplifies the error (T5's scores).
// run() may be called from several threads at once: primitives are made under a lock, and each
// call passes its own scratchpad (oneDNN's user scratchpad mode; with its default library mode a
// primitive must not run on two threads at once, nor on a thread other than the one that made it).
class DnnlMatMul {
 public:
  DnnlMatMul(dnnl::memory::data_type a, dnnl::memory::data_type b, dnnl::memory::data_type c);

  // Re-lays out a constant B (K x N, or N x K when trans_b, batch 1) once for every later run; the
  // tensor must not change afterwards. `m_hint` is the row count to choose the layout for.
  void pack_b(const Tensor& b, int64_t K, int64_t N, bool trans_b, int64_t m_hint = 128);
  bool has_packed_b() const { return packed_k_ > 0; }
  // Whether runs with the packed B (and A not transposed) go to kiln's own kernel (sgemm_packed.h):
  // float products on AVX-512 CPUs.
  bool own_kernel() const { return own_ != nullptr; }
  // Off: every run goes through oneDNN even where kiln's kernel could serve it (benchmarks and tests
  // comparing the two). Takes effect at the next pack_b.
  void allow_own_kernel(bool allow) { allow_own_ = allow; }

  // The K block of float products (integer products are exact and are never split).
  static constexpr int64_t kChunkK = 256;

  // C = alpha * op(A) * op(B) (+ bias[n], float32, batch 1 only), plus the previous contents of C
  // when accumulate, then GELU (erf form) when gelu. With packed B (shape.batch 1, same K, N and
  // trans_b), `b` is ignored and may be null.
  // residual (float32, batch 1, M x N like C; not with gelu): added last, ((product + bias) + r).
  void run(const MatMulShape& shape, const void* a, const void* b, void* c, float alpha = 1.f, bool accumulate = false,
           const float* bias = nullptr, bool gelu = false, const float* residual = nullptr);

 private:
  // One primitive: `shape` is one K-chunk's (its K is the chunk's length), `ld_k` the full K, the
  // leading dimension of A and of a transposed B.
  struct Key {
    MatMulShape shape;
    int64_t ld_k;
    float alpha;
    bool accumulate;
    bool packed;
    bool bias;
    bool gelu;
    auto operator<=>(const Key&) const = default;
  };
  struct Prepared {
    dnnl::matmul prim;
    dnnl::memory::desc a_md, b_md, c_md, bias_md;
    dnnl::memory::desc scratch_md;  // the primitive's scratchpad (user mode: the caller provides it)
    // When packed: each K-chunk of the weights in the primitive's layout, by chunk index (null for
    // chunks of another length, which have their own primitive).
    std::vector<std::shared_ptr<dnnl::memory>> packed;
  };
  // The primitive for a key, made on first use. At most kMaxCached are kept (oldest dropped first), so
  // a server that sees every sequence length does not grow without bound.
  std::shared_ptr<const Prepared> prepare(const Key& key);
  static constexpr size_t kMaxCached = 64;
  // Chunk `chunk` of the constant weights in layout `md`, re-laid out on first use.
  std::shared_ptr<dnnl::memory> packed_for(const dnnl::memory::desc& md, int64_t chunk);
  int64_t chunk_k(int64_t K) const;

  dnnl::memory::data_type ta_, tb_, tc_;
  std::mutex mu_;
  std::map<Key, std::shared_ptr<const Prepared>> cache_;
  std::deque<Key> order_;
  // Constant weights: the source (kept alive) and copies of its K-chunks in each layout a primitive
  // asked for (with the chunk index).
  Tensor packed_src_;
  int64_t packed_k_ = 0, packed_n_ = 0;
  bool packed_trans_ = false;
  std::vector<std::pair<int64_t, std::shared_ptr<dnnl::memory>>> packed_;
  // kiln's own layout of the constant weights, when its kernel serves them (oneDNN's copies are then
  // made only if a run needs oneDNN: a transposed A).
  std::unique_ptr<PackedSgemmB> own_;
  bool allow_own_ = true;
};

}  // namespace kiln::cpu
