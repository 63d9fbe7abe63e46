#include "runtime/kernels/cpu/movement.h"

#include <type_traits>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"

namespace kiln::cpu {

void copy_elements(Tensor& dst, int64_t di, const Tensor& src, int64_t si, int64_t n) {
  if (n <= 0) return;
  if (dst.dtype() == DType::String) {
    std::string* d = dst.data<std::string>() + di;
    const std::string* s = src.data<std::string>() + si;
    for (int64_t k = 0; k < n; ++k) d[k] = s[k];
    return;
  }
  size_t es = dtype_size(dst.dtype());
  std::memmove(static_cast<char*>(dst.raw()) + di * es, static_cast<const char*>(src.raw()) + si * es, n * es);
}

void fill_elements(Tensor& dst, int64_t di, const Tensor& src, int64_t si, int64_t n) {
  dispatch_by_size(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T v = static_cast<const T*>(src.raw())[si];
    T* d = static_cast<T*>(dst.raw()) + di;
    for (int64_t k = 0; k < n; ++k) d[k] = v;
  });
}

std::optional<Tensor> sub_view(const Tensor& x, Shape shape, int64_t elem_offset) {
  if (!x.buffer() || shape_numel(shape) == 0) return std::nullopt;
  return Tensor::view(x.dtype(), std::move(shape), x.buffer(), x.offset() + (size_t)elem_offset * dtype_size(x.dtype()));
}

std::vector<int64_t> linear_table(int64_t n, int64_t stride, int64_t start, int64_t step) {
  std::vector<int64_t> t((size_t)std::max<int64_t>(n, 0));
  for (int64_t i = 0; i < n; ++i) t[i] = (start + i * step) * stride;
  return t;
}

// Rows [row_begin, row_end) of the output (a row = the last dimension).
template <typename T>
static void gather_rows(const T* src, T* dst, const Shape& shape, const std::vector<std::vector<int64_t>>& tables,
                        const T* fill, bool contiguous, bool any_fill, int64_t row_begin, int64_t row_end) {
  int r = (int)shape.size();
  const std::vector<int64_t>& last = tables[r - 1];
  int64_t inner = shape[r - 1];
  // the outer index of row_begin
  std::vector<int64_t> idx(r, 0);
  int64_t rem = row_begin;
  for (int d = r - 2; d >= 0; --d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
  }
  int64_t base = 0;
  bool base_fill = false;
  for (int d = 0; d < r - 1; ++d) {
    if (tables[d][idx[d]] < 0) base_fill = true;
    base += tables[d][idx[d]];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    T* out = dst + row * inner;
    if (base_fill) {
      for (int64_t k = 0; k < inner; ++k) out[k] = *fill;
    } else if (contiguous && !any_fill) {
      const T* s = src + base + last[0];
      if constexpr (std::is_trivially_copyable_v<T>) {
        std::memcpy(out, s, inner * sizeof(T));
      } else {
        for (int64_t k = 0; k < inner; ++k) out[k] = s[k];
      }
    } else {
      for (int64_t k = 0; k < inner; ++k) out[k] = last[k] < 0 ? *fill : src[base + last[k]];
    }
    // advance the outer index
    for (int d = r - 2; d >= 0; --d) {
      int64_t old = tables[d][idx[d]];
      if (++idx[d] < shape[d]) {
        base += tables[d][idx[d]] - old;
        break;
      }
      base += tables[d][0] - old;
      idx[d] = 0;
    }
    if (any_fill) {
      base_fill = false;
      for (int d = 0; d < r - 1; ++d)
        if (tables[d][idx[d]] < 0) base_fill = true;
    }
  }
}

template <typename T>
static void gather_copy_typed(const T* src, T* dst, const Shape& shape, const std::vector<std::vector<int64_t>>& tables,
                              const T* fill) {
  int r = (int)shape.size();
  int64_t n = shape_numel(shape);
  if (n == 0) return;
  if (r == 0) {
    *dst = src[0];
    return;
  }
  const std::vector<int64_t>& last = tables[r - 1];
  int64_t inner = shape[r - 1];
  bool contiguous = true, any_fill = false;
  for (int64_t i = 0; i < inner; ++i) {
    if (last[i] < 0) any_fill = true;
    if (last[i] != last[0] + i) contiguous = false;
  }
  for (int d = 0; d < r - 1 && !any_fill; ++d)
    for (int64_t v : tables[d])
      if (v < 0) any_fill = true;
  int64_t rows = n / inner;
  long cost = (long)inner * (long)sizeof(T);
  parallel_for(rows, cost, [&](long b, long e) {
    gather_rows<T>(src, dst, shape, tables, fill, contiguous, any_fill, b, e);
  });
}

void gather_copy(const Tensor& src, Tensor& dst, const std::vector<std::vector<int64_t>>& tables, const Tensor* fill) {
  dispatch_by_size(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_copy_typed<T>(static_cast<const T*>(src.raw()), static_cast<T*>(dst.raw()), dst.shape(), tables,
                         fill ? static_cast<const T*>(fill->raw()) : nullptr);
  });
}

template <typename T>
static void transpose_tiles(const T* src, T* dst, const Shape& out, const std::vector<int64_t>& src_stride, int q) {
  int r = (int)out.size(), last = r - 1;
  auto dst_stride = contiguous_strides(out);
  std::vector<int> outer;
  for (int d = 0; d < r; ++d)
    if (d != q && d != last) outer.push_back(d);
  int64_t outer_n = 1;
  for (int d : outer) outer_n *= out[d];
  const int64_t T_ = 32;
  int64_t rows = out[q], cols = out[last], row_tiles = (rows + T_ - 1) / T_;
  int64_t sl = src_stride[last], dq = dst_stride[q];
  parallel_for(outer_n * row_tiles, T_ * cols * (long)sizeof(T), [&](long b, long e) {
    for (long task = b; task < e; ++task) {
      int64_t o = task / row_tiles, ib = (task % row_tiles) * T_;
      int64_t sbase = 0, dbase = 0, rem = o;
      for (int k = (int)outer.size() - 1; k >= 0; --k) {
        int d = outer[k];
        int64_t i = rem % out[d];
        rem /= out[d];
        sbase += i * src_stride[d];
        dbase += i * dst_stride[d];
      }
      int64_t iend = std::min(rows, ib + T_);
      for (int64_t jb = 0; jb < cols; jb += T_) {
        int64_t jend = std::min(cols, jb + T_);
        for (int64_t i = ib; i < iend; ++i) {
          const T* s = src + sbase + i;  // the q axis is the contiguous input axis
          T* d = dst + dbase + i * dq;
          for (int64_t j = jb; j < jend; ++j) d[j] = s[j * sl];
        }
      }
    }
  });
}

bool transpose_tiled(const Tensor& x, const std::vector<int>& perm, Tensor& y) {
  int r = x.rank();
  if (x.dtype() == DType::String || r < 2 || y.numel() == 0) return false;
  auto in_stride = contiguous_strides(x.shape());
  std::vector<int64_t> src_stride(r);
  int q = -1;
  for (int d = 0; d < r; ++d) {
    src_stride[d] = in_stride[perm[d]];
    if (perm[d] == r - 1) q = d;
  }
  // Worth it only when the last output axis is strided and the contiguous input axis is long.
  if (q < 0 || q == r - 1 || x.shape()[r - 1] < 4 || y.shape()[r - 1] < 4) return false;
  dispatch_by_size(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    transpose_tiles<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), y.shape(), src_stride, q);
  });
  return true;
}

Shape read_ints(const Tensor& t, const Node& node, const char* what) {
  KILN_CHECK(t.dtype() == DType::I64 || t.dtype() == DType::I32, BadInput, "{}: {} must be int64 or int32, got {}",
             node.label(), what, dtype_name(t.dtype()));
  KILN_CHECK(t.rank() <= 1, BadInput, "{}: {} must be 1-D, got shape {}", node.label(), what, shape_str(t.shape()));
  Shape v((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.item_i64(i);
  return v;
}

}  // namespace kiln::cpu
