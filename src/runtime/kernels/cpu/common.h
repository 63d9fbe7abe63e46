// Small helpers shared by CPU kernels: axis handling and numpy-style broadcasting.
#pragma once
#include <initializer_list>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "runtime/kernel.h"

namespace kiln::cpu {

// Normalises a possibly negative axis for a tensor of `rank`; throws BadModel when out of range.
int normalize_axis(int64_t axis, int rank, const Node& node);

// The numpy broadcast of two or more shapes; throws BadInput naming the node when incompatible.
Shape broadcast_shapes(std::span<const Shape> shapes, const Node& node);
inline Shape broadcast_shapes(std::initializer_list<Shape> shapes, const Node& node) {
  return broadcast_shapes(std::span<const Shape>(shapes.begin(), shapes.size()), node);
}

// Strides and index lists below are Shapes (a list of int64 kept inline up to Shape::kInline), so
// that working them out takes nothing from the heap.

// Strides (in elements) of `in` broadcast to `out`: 0 along broadcast dimensions.
Shape broadcast_strides(const Shape& in, const Shape& out);

// Row-major strides of a shape.
Shape contiguous_strides(const Shape& s);

// Calls f(out_index, in_offsets...) over every element of `out`, with each input's offset under
// broadcasting. Fast paths: same shapes, scalar operands, and a last-dimension inner loop.
template <typename F>
void for_each_broadcast2(const Shape& a, const Shape& b, const Shape& out, F&& f) {
  int64_t n = shape_numel(out);
  if (a == out && b == out) {
    for (int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  if (shape_numel(b) == 1 && a == out) {
    for (int64_t i = 0; i < n; ++i) f(i, i, 0);
    return;
  }
  if (shape_numel(a) == 1 && b == out) {
    for (int64_t i = 0; i < n; ++i) f(i, 0, i);
    return;
  }
  auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  int r = (int)out.size();
  if (r == 0) {
    f(0, 0, 0);
    return;
  }
  Shape idx(r, 0);
  int64_t inner = out[r - 1], ia = sa[r - 1], ib = sb[r - 1];
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < n; o += inner) {
    for (int64_t k = 0; k < inner; ++k) f(o + k, oa + k * ia, ob + k * ib);
    // advance the outer index
    for (int d = r - 2; d >= 0; --d) {
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// Offsets of `in` broadcast to `out` for each output element (for ops with three or more inputs).
std::vector<int64_t> broadcast_offsets(const Shape& in, const Shape& out);

// A tensor's values as floats into a list the caller keeps across runs (so that its storage is
// reused); float32 is copied without a per-element type dispatch (a product's bias is read every run).
void float_values(const Tensor& t, std::vector<float>& v);

}  // namespace kiln::cpu
