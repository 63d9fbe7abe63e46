// Tensor: an element type, a shape and a (shared) buffer. Copies share the buffer; clone() copies.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/dtype.h"
#include "core/error.h"

namespace kiln {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3]"

class Tensor {
 public:
  Tensor() = default;
  // A new tensor on the CPU heap. Numeric contents are uninitialised; strings are empty.
  Tensor(DType dtype, Shape shape);
  // A tensor over existing bytes (no copy); `offset` is in bytes.
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t offset = 0);
  static Tensor zeros(DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T v) { return from_vector<T>({}, std::vector<T>{v}); }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return (int)shape_.size(); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return (size_t)numel_ * dtype_size(dtype_); }
  Device device() const { return buffer_ ? buffer_->device() : Device{}; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  size_t offset() const { return offset_; }

  void* raw() { return buffer_ ? static_cast<char*>(buffer_->data()) + offset_ : nullptr; }
  const void* raw() const { return buffer_ ? static_cast<const char*>(buffer_->data()) + offset_ : nullptr; }

  template <typename T>
  T* data() {
    check_type(dtype_of<T>());
    return static_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    check_type(dtype_of<T>());
    return static_cast<const T*>(raw());
  }
  template <typename T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel_);
  }
  // Reads element i of any numeric type as double / int64 (for shapes, axes, attributes).
  double item_f64(int64_t i = 0) const;
  int64_t item_i64(int64_t i = 0) const;
  std::vector<int64_t> to_i64_vector() const;

  // Same buffer, new shape (element counts must match).
  Tensor reshape(Shape shape) const;
  // A deep copy in a new heap buffer.
  Tensor clone() const;
  // Elementwise conversion to another type (same shape), a new buffer.
  Tensor cast(DType to) const;
  // The transpose of a 2-D tensor as float32 (other types are converted first), a new buffer.
  Tensor transposed_2d_f32() const;

 private:
  void check_type(DType want) const;

  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  KILN_CHECK((int64_t)values.size() == t.numel(), InternalError,
             "from_vector: {} values for shape {}", values.size(), shape_str(t.shape()));
  T* p = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

}  // namespace kiln
