#include "pipelines/tensor_rows.h"

#include <algorithm>
#include <cstring>

namespace kiln::pipelines {

Tensor i64_matrix(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t n = (int64_t)rows.size(), m = rows.empty() ? 0 : (int64_t)rows[0].size();
  Tensor t(DType::I64, {n, m});
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK((int64_t)rows[i].size() == m, InternalError, "i64_matrix: ragged rows");
    std::memcpy(p + i * m, rows[i].data(), m * sizeof(int64_t));
  }
  return t;
}

PaddedBatch pad_batch(const std::vector<std::vector<int64_t>>& rows, size_t first, size_t n, int64_t pad) {
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) len = std::max(len, rows[first + i].size());
  PaddedBatch b{Tensor(DType::I64, {(int64_t)n, (int64_t)len}), Tensor(DType::I64, {(int64_t)n, (int64_t)len})};
  for (size_t i = 0; i < n; ++i) {
    const std::vector<int64_t>& r = rows[first + i];
    int64_t* ids = b.ids.data<int64_t>() + i * len;
    int64_t* mask = b.mask.data<int64_t>() + i * len;
    std::copy(r.begin(), r.end(), ids);
    std::fill(ids + r.size(), ids + len, pad);
    std::fill(mask, mask + r.size(), 1);
    std::fill(mask + r.size(), mask + len, 0);
  }
  return b;
}

Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx) {
  KILN_CHECK(t.rank() >= 1, InternalError, "take_rows on a scalar");
  Shape s = t.shape();
  const int64_t n = s[0];
  s[0] = (int64_t)idx.size();
  Tensor out(t.dtype(), s);
  const size_t row_bytes = n ? t.nbytes() / (size_t)n : 0;
  const char* src = static_cast<const char*>(t.raw());
  char* dst = static_cast<char*>(out.raw());
  for (size_t i = 0; i < idx.size(); ++i) {
    KILN_CHECK(idx[i] >= 0 && idx[i] < n, InternalError, "take_rows: row {} of {}", idx[i], n);
    if (row_bytes) std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
  }
  return out;
}

std::vector<float> as_floats(const Tensor& t) {
  if (t.dtype() == DType::F32) return t.to_vector<float>();
  KILN_CHECK(dtype_is_float(t.dtype()), BadModel, "expected a float output, got {}", dtype_name(t.dtype()));
  return t.cast(DType::F32).to_vector<float>();
}

}  // namespace kiln::pipelines
