// Element types of tensors, with the ONNX TensorProto numbering.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/half.h"

namespace kiln {

// Values equal ONNX TensorProto.DataType so conversions are a cast.
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

size_t dtype_size(DType t);                  // bytes per element (sizeof(std::string) for String)
std::string_view dtype_name(DType t);         // "float32", "int64", ... (the tensor JSON names)
DType dtype_from_name(std::string_view name);  // inverse of dtype_name; Undefined when unknown
bool dtype_is_float(DType t);                 // f16, bf16, f32, f64
bool dtype_is_integer(DType t);               // signed and unsigned ints (not bool)
bool dtype_is_known(int32_t onnx_type);       // a DataType value kiln can hold

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<Half>() { return DType::F16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BF16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::I16; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::U16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::U32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::U64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }
template <> constexpr DType dtype_of<std::string>() { return DType::String; }

[[noreturn]] void throw_unsupported_dtype(DType t);

// Calls f(T{}) with the C++ type of t (a tag value); throws Unsupported for String/Undefined
// unless the functor is meant for them (use dispatch_all for strings too).
#define KILN_DTYPE_CASE(DT, T) \
  case DType::DT: return f(T{});

template <typename F>
decltype(auto) dispatch_numeric(DType t, F&& f) {
  switch (t) {
    KILN_DTYPE_CASE(F32, float)
    KILN_DTYPE_CASE(F64, double)
    KILN_DTYPE_CASE(F16, Half)
    KILN_DTYPE_CASE(BF16, BFloat16)
    KILN_DTYPE_CASE(I8, int8_t)
    KILN_DTYPE_CASE(U8, uint8_t)
    KILN_DTYPE_CASE(I16, int16_t)
    KILN_DTYPE_CASE(U16, uint16_t)
    KILN_DTYPE_CASE(I32, int32_t)
    KILN_DTYPE_CASE(U32, uint32_t)
    KILN_DTYPE_CASE(I64, int64_t)
    KILN_DTYPE_CASE(U64, uint64_t)
    KILN_DTYPE_CASE(Bool, bool)
    default: break;
  }
  throw_unsupported_dtype(t);
}

template <typename F>
decltype(auto) dispatch_all(DType t, F&& f) {
  if (t == DType::String) return f(std::string{});
  return dispatch_numeric(t, std::forward<F>(f));
}

}  // namespace kiln
