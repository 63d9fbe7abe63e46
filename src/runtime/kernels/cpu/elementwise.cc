#include "runtime/kernels/cpu/elementwise.h"

namespace kiln::cpu {

BroadcastLayout::BroadcastLayout(std::span<const Shape> ins, const Shape& out_shape) : out(out_shape) {
  KILN_CHECK(ins.size() <= 8, InternalError, "BroadcastLayout: {} inputs (at most 8)", ins.size());
  numel = shape_numel(out);
  const int r = (int)out.size();
  const size_t k = ins.size();
  std::array<Shape, 8> strides;
  for (size_t i = 0; i < k; ++i) strides[i] = broadcast_strides(ins[i], out);
  steps.assign(k, 1);
  // Grow the inner block from the last dimension while every input keeps one kind of step
  // (contiguous with matching stride, or broadcast).
  std::array<int, 8> kind;
  kind.fill(-1);
  int split = r;
  inner = 1;
  for (int d = r - 1; d >= 0; --d) {
    if (out[d] == 1) {
      split = d;
      continue;
    }
    bool ok = true;
    std::array<int, 8> next = kind;
    for (size_t i = 0; i < k; ++i) {
      int kd = strides[i][d] == 0 ? 0 : 1;
      if (kd == 1 && strides[i][d] != inner) ok = false;
      if (next[i] == -1) next[i] = kd;
      else if (next[i] != kd) ok = false;
    }
    if (!ok) break;
    kind = next;
    inner *= out[d];
    split = d;
  }
  for (size_t i = 0; i < k; ++i) steps[i] = kind[i] == 0 ? 0 : 1;
  outer.assign(out.begin(), out.begin() + split);
  for (size_t i = 0; i < k; ++i) outer_strides[i].assign(strides[i].begin(), strides[i].begin() + split);
}

void BroadcastLayout::row_offsets(int64_t r, int64_t* offs) const {
  const size_t k = steps.size();
  for (size_t i = 0; i < k; ++i) offs[i] = 0;
  for (int d = (int)outer.size() - 1; d >= 0 && r > 0; --d) {
    int64_t idx = r % outer[d];
    r /= outer[d];
    for (size_t i = 0; i < k; ++i) offs[i] += idx * outer_strides[i][d];
  }
}

}  // namespace kiln::cpu
