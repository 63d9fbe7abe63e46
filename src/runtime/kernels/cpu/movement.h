// Data-movement helpers for the shape/indexing kernels: element copies that work for every dtype
// (plain bytes for numbers, bool and 16-bit floats; assignment for strings).
#pragma once
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "runtime/kernel.h"

namespace kiln::cpu {

// Copies n elements from src (starting at element si) to dst (starting at element di).
// Both tensors have the same dtype.
void copy_elements(Tensor& dst, int64_t di, const Tensor& src, int64_t si, int64_t n);

// Fills dst[di .. di+n) with element `si` of src.
void fill_elements(Tensor& dst, int64_t di, const Tensor& src, int64_t si, int64_t n);

// The general gather: for every index (i_0..i_{r-1}) of dst's shape,
//   dst[i] = src[sum_d tables[d][i_d]]            (tables hold element offsets into src)
// A table entry of -1 means "outside the source": that element is set to element 0 of `fill`
// (which must then be given). Contiguous runs in the last dimension are copied as blocks.
void gather_copy(const Tensor& src, Tensor& dst, const std::vector<std::vector<int64_t>>& tables,
                 const Tensor* fill = nullptr);

// A view of x's buffer (no copy): `shape` starting at element `elem_offset`. The caller checks that
// the elements are contiguous in x. Null when x has no buffer (empty tensors).
std::optional<Tensor> sub_view(const Tensor& x, Shape shape, int64_t elem_offset);

// Transpose of a contiguous tensor whose last input axis does not stay last (a strided innermost
// read): copied in cache-sized 2-D tiles. Returns false (and does nothing) when the case does not
// apply (strings, or the last input axis stays last, where gather_copy's row copies are best).
bool transpose_tiled(const Tensor& x, const std::vector<int>& perm, Tensor& y);

// Table of offsets for dimension d read straight through: i * stride.
std::vector<int64_t> linear_table(int64_t n, int64_t stride, int64_t start = 0, int64_t step = 1);

// Reads a 1-D (or scalar) integer tensor as int64 values; throws BadInput naming `what` for other types.
Shape read_ints(const Tensor& t, const Node& node, const char* what);

// Reshape's output shape for input shape `in` and the shape input's values `want` (0 copies the
// input's dimension unless allowzero, one -1 is inferred); BadInput naming `node` when they do not fit.
Shape reshape_target(const Shape& in, const Shape& want, bool allowzero, const Node& node);

// Calls f(T{}) with a C++ type of the same size as dt's elements (std::string for strings), for
// kernels that only move elements.
template <typename F>
decltype(auto) dispatch_by_size(DType dt, F&& f) {
  if (dt == DType::String) return f(std::string{});
  switch (dtype_size(dt)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: break;
  }
  throw_unsupported_dtype(dt);
}

}  // namespace kiln::cpu
