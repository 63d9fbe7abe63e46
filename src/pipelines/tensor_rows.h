// Small tensor helpers the pipelines share: id matrices in, rows out, rows gathered.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::pipelines {

// [rows, cols] int64 tensor from equal-length rows.
Tensor i64_matrix(const std::vector<std::vector<int64_t>>& rows);
// A batch of id rows padded to its longest, written straight into the tensors a graph takes:
// input_ids [n, len] (each row, then `pad`) and attention_mask (1 per id, then 0).
struct PaddedBatch {
  Tensor ids, mask;
};
// Rows [first, first + n) of `rows`.
PaddedBatch pad_batch(const std::vector<std::vector<int64_t>>& rows, size_t first, size_t n, int64_t pad);
// Rows idx of t along its first axis, in that order (repeats allowed), as a new tensor.
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx);
// A float32 copy of any float tensor's data.
std::vector<float> as_floats(const Tensor& t);

}  // namespace kiln::pipelines
