// kiln/tensor.h: the values kiln's sessions take and return.
//
//   kiln::Tensor ids = kiln::Tensor::from_vector<int64_t>({1, 4}, {101, 7592, 2088, 102});
//   kiln::NamedTensors feeds{{"input_ids", ids}};
//   const float* logits = outputs.at("logits").data<float>();
//
// A Tensor is an element type (DType), a shape and a shared buffer: copies share the bytes,
// clone() copies them. Data are row-major and contiguous.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/api.h"
#include "kiln/half.h"
#include "kiln/shape.h"

namespace kiln {

// Element types, numbered as ONNX's TensorProto.DataType.
enum class DType : int32_t {
  Undefined = 0,
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  String = 8,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  BF16 = 16,
};

KILN_API size_t dtype_size(DType t);                    // bytes per element (sizeof(std::string) for String)
KILN_API std::string_view dtype_name(DType t);          // "float32", "int64", ... (numpy's names)
KILN_API DType dtype_from_name(std::string_view name);  // inverse of dtype_name; Undefined when unknown
KILN_API bool dtype_is_float(DType t);                  // f16, bf16, f32, f64
KILN_API bool dtype_is_integer(DType t);                // signed and unsigned ints (not bool)
KILN_API bool dtype_is_known(int32_t onnx_type);        // a DataType value kiln can hold

// The DType of a C++ element type: dtype_of<float>() == DType::F32.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<Half>() {
  return DType::F16;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BF16;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::I8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::U8;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::I16;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::U16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint32_t>() {
  return DType::U32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::I64;
}
template <>
constexpr DType dtype_of<uint64_t>() {
  return DType::U64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}
template <>
constexpr DType dtype_of<std::string>() {
  return DType::String;
}

// Where a tensor's bytes live. The CPU is always there; another device is served by a backend
// compiled into kiln (docs/architecture.md, "Devices"), and a Session asked for a device no backend
// serves refuses with Unsupported. `Test` is a device only kiln's own test binaries register (a
// separate heap with a few kernels), to exercise device placement without hardware.
enum class DeviceType { Cpu, Cuda, Test };

struct Device {
  DeviceType type = DeviceType::Cpu;
  int index = 0;  // which device of that type (always 0 for the CPU)
  bool operator==(const Device&) const = default;
  bool is_cpu() const { return type == DeviceType::Cpu; }
};

KILN_API std::string_view device_type_name(DeviceType t);  // "cpu", "cuda", "test"
KILN_API std::string device_name(Device d);                // "cpu", "cuda:0", "test:1"
// "cpu", "cuda" (= cuda:0) or "cuda:N"; throws BadInput for anything else. Whether this build can
// run on the device is a separate question, answered when a Session is made.
KILN_API Device parse_device(std::string_view name);

KILN_API int64_t shape_numel(const Shape& s);    // throws BadInput (negative dims), BadModel (overflow)
KILN_API std::string shape_str(const Shape& s);  // "[2, 3]"

class Buffer;     // the memory a tensor points into (kiln's own: src/core/buffer.h)
class Allocator;  // where a device's memory comes from (kiln's own: src/core/allocator.h)

class KILN_API Tensor {
 public:
  Tensor() = default;
  // A new tensor on the CPU heap. Numeric contents are uninitialised; strings are empty.
  Tensor(DType dtype, Shape shape);
  // A new tensor in memory from `allocator` (its device's; string tensors live on the CPU only).
  Tensor(DType dtype, Shape shape, Allocator& allocator);
  // A tensor over existing bytes (no copy); `offset` is in bytes.
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t offset = 0);
  // A tensor over memory kiln does not own, e.g. a numpy array: nothing is copied. `data` holds
  // shape_numel(shape) elements of `dtype`, row-major and contiguous; `owner` keeps that memory
  // alive and is released when the last tensor using it (a copy, an output of a run that aliases
  // it) is gone. kiln reads the bytes and never writes them (is_view() is true). Throws BadInput for
  // String tensors (their elements are std::string objects) and for a null `data` with elements.
  static Tensor wrap(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner);
  static Tensor zeros(DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T v) {
    return from_vector<T>({}, std::vector<T>{v});
  }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return (int)shape_.size(); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return (size_t)numel_ * dtype_size(dtype_); }
  Device device() const;
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  size_t offset() const { return offset_; }

  // The first element. On a device other than the CPU this is device memory: only that device's
  // kernels and copies may touch it (item_f64, to_vector, clone ... are for CPU tensors).
  void* raw();
  const void* raw() const;
  // True when the bytes belong to something else (a memory-mapped model file, memory given to
  // wrap()): read them, do not write them. A run's outputs can be such views (a graph output that
  // is a weight, or that aliases a feed).
  bool is_view() const;

  // The elements as T (throws InternalError when T is not the tensor's type).
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
  void check_count(size_t values) const;  // from_vector: as many values as the shape holds

  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  t.check_count(values.size());
  T* p = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

// Tensors by name: a session's feeds and outputs.
using NamedTensors = std::map<std::string, Tensor>;

}  // namespace kiln
