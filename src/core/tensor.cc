#include "core/tensor.h"

#include <cstring>

#include "core/allocator.h"
#include "core/limits.h"

namespace kiln {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    KILN_CHECK(d >= 0, BadInput, "negative dimension {} in shape {}", d, shape_str(s));
    if (__builtin_mul_overflow(n, d, &n))
      throw BadModel(fmt::format("shape {} has more elements than a 64-bit count holds", shape_str(s)));
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

static std::shared_ptr<Buffer> allocate_for(DType dtype, int64_t n) {
  if (dtype == DType::String) {
    std::shared_ptr<std::string[]> strings(new std::string[n > 0 ? n : 1]);
    void* p = strings.get();
    return std::make_shared<Buffer>(p, (size_t)n * sizeof(std::string), std::move(strings), Device{});
  }
  return Buffer::allocate((size_t)n * dtype_size(dtype));
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  checked_tensor_bytes(dtype_, shape_, numel_);  // overflow and the run's max_tensor_bytes
  buffer_ = allocate_for(dtype_, numel_);
}

Tensor::Tensor(DType dtype, Shape shape, Allocator& allocator) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  checked_tensor_bytes(dtype_, shape_, numel_);
  const Device device = allocator.device();
  if (device.is_cpu()) {
    buffer_ = allocate_for(dtype_, numel_);
    return;
  }
  KILN_CHECK(dtype_ != DType::String, Unsupported, "a string tensor cannot live on {}: strings live on the CPU only",
             device_name(device));
  buffer_ = allocator.buffer((size_t)numel_ * dtype_size(dtype_));
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t offset) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  KILN_CHECK(offset + t.nbytes() <= buffer->size(), InternalError,
             "tensor view of {} bytes at offset {} exceeds a buffer of {} bytes", t.nbytes(), offset,
             buffer->size());
  t.buffer_ = std::move(buffer);
  t.offset_ = offset;
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner) {
  KILN_CHECK(dtype != DType::String, BadInput,
             "string tensors cannot wrap outside memory (their elements are std::string objects); build them with "
             "Tensor(DType::String, shape)");
  KILN_CHECK(dtype_is_known((int32_t)dtype), BadInput,
             "cannot wrap memory as element type {}", (int)dtype);
  const int64_t n = shape_numel(shape);
  KILN_CHECK(data != nullptr || n == 0, BadInput, "cannot wrap a null pointer as a tensor of shape {}",
             shape_str(shape));
  size_t bytes = 0;
  KILN_CHECK(!__builtin_mul_overflow((size_t)n, dtype_size(dtype), &bytes), BadInput,
             "shape {} of {} holds more bytes than memory can", shape_str(shape), dtype_name(dtype));
  return view(dtype, std::move(shape), Buffer::view(data, bytes, std::move(owner)));
}

bool Tensor::is_view() const { return buffer_ && buffer_->is_view(); }

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  if (dtype != DType::String && t.nbytes()) std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Device Tensor::device() const { return buffer_ ? buffer_->device() : Device{}; }

void* Tensor::raw() { return buffer_ ? static_cast<char*>(buffer_->data()) + offset_ : nullptr; }

const void* Tensor::raw() const {
  return buffer_ ? static_cast<const char*>(buffer_->data()) + offset_ : nullptr;
}

void Tensor::check_count(size_t values) const {
  KILN_CHECK((int64_t)values == numel_, InternalError, "from_vector: {} values for shape {}", values,
             shape_str(shape_));
}

void Tensor::check_type(DType want) const {
  if (want != dtype_)
    throw InternalError(fmt::format("tensor holds {} but was read as {}", dtype_name(dtype_),
                                    dtype_name(want)));
}

double Tensor::item_f64(int64_t i) const {
  KILN_CHECK(i >= 0 && i < numel_, InternalError, "element {} out of range ({} elements)", i, numel_);
  return dispatch_numeric(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    return (double)static_cast<const T*>(raw())[i];
  });
}

int64_t Tensor::item_i64(int64_t i) const {
  KILN_CHECK(i >= 0 && i < numel_, InternalError, "element {} out of range ({} elements)", i, numel_);
  return dispatch_numeric(dtype_, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
      return (int64_t)(float)static_cast<const T*>(raw())[i];
    else
      return (int64_t)static_cast<const T*>(raw())[i];
  });
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  std::vector<int64_t> v((size_t)numel_);
  for (int64_t i = 0; i < numel_; ++i) v[i] = item_i64(i);
  return v;
}

Tensor Tensor::reshape(Shape shape) const {
  Tensor t = *this;
  int64_t n = shape_numel(shape);
  KILN_CHECK(n == numel_, BadInput, "cannot reshape {} elements {} to {}", numel_, shape_str(shape_),
             shape_str(shape));
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (dtype_ == DType::String) {
    const std::string* src = data<std::string>();
    std::string* dst = t.data<std::string>();
    for (int64_t i = 0; i < numel_; ++i) dst[i] = src[i];
  } else if (nbytes()) {
    std::memcpy(t.raw(), raw(), nbytes());
  }
  return t;
}

template <typename To, typename From>
static To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return (float)v != 0.0f || (!std::is_floating_point_v<From> && v != From{});
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    return To((float)v);
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return (To)(float)v;
  } else {
    return (To)v;
  }
}

Tensor Tensor::transposed_2d_f32() const {
  KILN_CHECK(rank() == 2, InternalError, "transposed_2d_f32 of a {}-D tensor", rank());
  Tensor f = dtype_ == DType::F32 ? *this : cast(DType::F32);
  const int64_t rows = f.dim(0), cols = f.dim(1);
  Tensor t(DType::F32, {cols, rows});
  const float* src = f.data<float>();
  float* dst = t.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return t;
}

Tensor Tensor::cast(DType to) const {
  KILN_CHECK(dtype_ != DType::String && to != DType::String, Unsupported,
             "casting to or from strings is not supported");
  Tensor out(to, shape_);
  dispatch_numeric(dtype_, [&](auto from_tag) {
    using From = decltype(from_tag);
    const From* src = static_cast<const From*>(raw());
    dispatch_numeric(to, [&](auto to_tag) {
      using To = decltype(to_tag);
      To* dst = static_cast<To*>(out.raw());
      for (int64_t i = 0; i < numel_; ++i) {
        if constexpr (std::is_same_v<To, bool>) {
          if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>)
            dst[i] = (float)src[i] != 0.0f;
          else
            dst[i] = src[i] != From{};
        } else {
          dst[i] = convert<To, From>(src[i]);
        }
      }
    });
  });
  return out;
}

}  // namespace kiln
