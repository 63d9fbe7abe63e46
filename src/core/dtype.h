// DType is public (include/kiln/tensor.h); this adds the dispatch helpers kiln's kernels use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/tensor.h"

namespace kiln {

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
