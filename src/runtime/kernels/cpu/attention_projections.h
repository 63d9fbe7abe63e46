// kiln:Attention's q, k and v made inside the node from the input of their projections (attribute
// projections, passes/attention_projection_fusion.cc): each sequence's rows are made just before its
// attention reads them, in a window of one sequence's rows that every sequence reuses, so they are
// read from cache instead of from three [b, s, H*D] tensors in memory.
//
// The node's inputs from index `projections` on, after the score ops' tensors:
//   int8:  A (uint8: in row tiles, row_tiles.h, unless the node's attribute row_tiles is 0), a_scale,
//          a_zero_point, then for q, k and v each
//          B (constant 8-bit [K, N]), b_scale, b_zero_point, bias, the Reshape's shape   (18 inputs)
//   float: A (float32), then for q, k and v each W (constant [K, N]), bias, the Reshape's shape (10)
// Each product is the one its MatMulIntegerToFloat / kiln:MatMulBias node made (the same kernel and
// epilogue on the same rows), and each is viewed through its Reshape as that node's output was.
#pragma once
#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/quant_gemm.h"

namespace kiln::cpu {

class AttentionProjections {
 public:
  // Packs the three constant weights; BadModel when the inputs from `first` on are not one of the
  // layouts above.
  AttentionProjections(const KernelInfo& info, size_t first);

  // One run's operands, read from the node's inputs (the lists live on the calling thread and are
  // reused by its next run: a steady-state run allocates nothing here).
  class Run {
   public:
    // Allocates the windows of up to min(threads, batch) threads (on this thread, so that a
    // steady-state run takes the same blocks from the buffer cache every time); freed at the end.
    Run(AttentionProjections& p, KernelContext& ctx);
    ~Run();
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    // q's, k's and v's [b, s, H, D] shapes (each product's shape through its Reshape).
    const std::array<Shape, 3>& views() const { return views_; }
    // The batch the attention loops over (q's first dimension; 1 where q's view is not rank 4, which
    // the attention refuses).
    int64_t batch() const { return views_[0].size() == 4 ? std::max<int64_t>(1, views_[0][0]) : 1; }

    // One thread's rows for consecutive sequences b (in increasing order, from `first` on): the
    // window of the thread that parallel_for gives the sequences from `first` (its chunk's start).
    class Window {
     public:
      Window(const Run& run, int64_t first);
      // Makes sequence b's q, k and v rows and returns where each one's first row is; b's rows are
      // then rows of H*D values (token-major), valid until the next call.
      std::array<const float*, 3> operator()(int64_t b);

     private:
      const Run& run_;
      std::array<Tensor, 3>& rows_;
      int64_t w0_ = 0, done_ = 0;  // rows [w0_, done_) of each product are in rows_, from its row 0
      bool started_ = false;
    };

   private:
    // Rows [r0, r1) of product p into `out` (r1 - r0 rows).
    void make(size_t p, int64_t r0, int64_t r1, float* out) const;

    AttentionProjections& p_;
    const void* a_ = nullptr;
    Tensor a_rows_;  // A rearranged from row tiles where this CPU's product does not read them
    bool tiles_ = false;
    int64_t K_ = 0, M_ = 0;
    int64_t per_ = 0;        // rows of one sequence; M when the rows do not map to tokens
    bool rows_map_ = false;  // row r of each product is token r of its view
    float a_scale_ = 1.f;
    const std::vector<int32_t>* za_ = nullptr;
    const std::array<std::vector<float>, 3>* bsc_ = nullptr;
    const std::array<std::vector<float>, 3>* bias_ = nullptr;
    const std::array<std::vector<int32_t>, 3>* zb_ = nullptr;
    std::array<Shape, 3> views_;
    int64_t slots_ = 1;                                      // windows: min(threads, batch)
    std::vector<std::array<Tensor, 3>>* windows_ = nullptr;  // this thread's list, kept across runs
  };

 private:
  struct Product {
    int64_t K = 0, N = 0;
    std::unique_ptr<Int8Gemm> int8;   // the int8 layout
    std::unique_ptr<DnnlMatMul> f32;  // the float layout
  };
  size_t first_;
  bool int8_;
  bool a_row_tiles_ = false;  // int8: A comes in row tiles (attribute row_tiles, 1 unless set to 0)
  std::array<Product, 3> products_;
};

}  // namespace kiln::cpu
