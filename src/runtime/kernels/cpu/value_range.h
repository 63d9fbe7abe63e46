// [min, max] of what a kernel writes, for kiln:DynamicQuantizeLinear (passes/quantize_range_fusion.cc):
// each thread folds in the range of its own part of the output while the values are still in registers
// or L1, and the parts are merged here. The producer's attribute `range_output` says which output gets
// the two floats.
#pragma once
#include <algorithm>
#include <limits>
#include <mutex>

#include "runtime/kernel.h"

namespace kiln::cpu {

class ValueRange {
 public:
  // The output index the node's range goes to, or -1 when it has none.
  static int output_index(const Node& n) { return (int)n.attr_int("range_output", -1); }

  // Folds in the range of one part. As DynamicQuantizeLinear's own reduction does, a NaN bound of a
  // part is passed over.
  void merge(float lo, float hi) {
    std::lock_guard<std::mutex> lock(mu_);
    lo_ = std::min(lo_, lo);
    hi_ = std::max(hi_, hi);
  }
  float lo() const { return lo_; }
  float hi() const { return hi_; }
  // Writes [min, max] (min +inf, max -inf when nothing was merged: an empty output).
  void write(KernelContext& ctx, int index) const {
    if (index < 0 || !ctx.output_wanted((size_t)index)) return;
    float* r = ctx.allocate_output((size_t)index, DType::F32, {2}).data<float>();
    r[0] = lo_;
    r[1] = hi_;
  }

 private:
  std::mutex mu_;
  float lo_ = std::numeric_limits<float>::infinity();
  float hi_ = -std::numeric_limits<float>::infinity();
};

}  // namespace kiln::cpu
