// kiln's own float32 product for a constant weight on AVX-512 CPUs: C (M x N) = alpha * A (M x K) *
// B (K x N) (+ C) (+ bias[n]) (then GELU), with B re-laid out once into column panels of 32.
//
// Why not oneDNN: kiln sums K in blocks of 256 as ONNX Runtime's MLAS does (see DnnlMatMul), which
// through oneDNN costs one primitive call per block with a sum post-op, and its GELU post-op and
// brgemm left about 15 % of this core's FMA peak unused on DistilBERT's shapes. Here the blocking is
// the kernel's own loop: each 12 x 32 tile of C is summed in 24 zmm registers over 256 k (an FMA
// chain in k order from zero: bit for bit the sums oneDNN's K-chunks made), then written (first
// block) or added (later ones) into C; the bias is added after the last block, then GELU. A's rows
// are read where they lie when 12 of them fall into enough different L1 sets (lda = 768), and are
// otherwise re-laid out per call into 12-row tiles (k-major), so the tile's loads do not evict each
// other (lda = 512, 1024, 3072: 12 rows in one or two sets); a
// panel's 256 x 32 block of B (32 KiB) stays in L1 across the row tiles, and the next block is
// prefetched into L2 meanwhile. A block of fewer than 12 rows (a decoder step's) keeps only its own
// rows per k (one row is read where it lies) and walks B in memory order, fetching each next block
// into L1: it reads every weight once, at what the memory gives.
#pragma once
#include <cstdint>
#include <memory>

#include "core/tensor.h"

namespace kiln::cpu {

class PackedSgemmB {
 public:
  // Whether this CPU runs the kernel (AVX-512 and not capped below it by KILN_ISA).
  static bool available();

  // B stored K x N row-major, or N x K when trans_b.
  PackedSgemmB(const float* b, int64_t K, int64_t N, bool trans_b);

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }

  // C (rows of ldc floats) = alpha * A (rows of lda floats) * B, plus C's previous contents when
  // accumulate, plus bias[n] when not null, then GELU (erf form) when gelu, or plus residual (M x N,
  // rows of ldc floats: ((sum + bias) + r), a following Add's order) when not null (not with gelu).
  // Runs on the calling thread's pool (parallel_for) unless already inside a parallel region.
  void run(int64_t M, const float* a, int64_t lda, float* c, int64_t ldc, float alpha = 1.f, bool accumulate = false,
           const float* bias = nullptr, bool gelu = false, const float* residual = nullptr) const;

  // Sums over k in blocks of this many (ONNX Runtime's MLAS: 256).
  static constexpr int64_t kBlockK = 256;
  // Columns per panel, rows per register tile.
  static constexpr int64_t kPanel = 32, kRows = 12;

 private:
  int64_t K_, N_, panels_;
  // Panel p holds columns [64 p, 64 p + width) as K rows of `width` floats (the last panel's width is
  // the remaining columns rounded up to 16, zero-padded).
  std::shared_ptr<Buffer> data_;
};

}  // namespace kiln::cpu
