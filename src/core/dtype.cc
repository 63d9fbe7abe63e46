#include "core/dtype.h"

#include "core/error.h"

namespace kiln {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: case DType::U32: return 4;
    case DType::F64: case DType::I64: case DType::U64: return 8;
    case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: return 1;
    case DType::String: return sizeof(std::string);
    case DType::Undefined: return 0;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I16: return "int16";
    case DType::U16: return "uint16";
    case DType::I32: return "int32";
    case DType::U32: return "uint32";
    case DType::I64: return "int64";
    case DType::U64: return "uint64";
    case DType::Bool: return "bool";
    case DType::String: return "string";
    case DType::Undefined: return "undefined";
  }
  return "undefined";
}

DType dtype_from_name(std::string_view n) {
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I16,
                  DType::U16, DType::I32, DType::U32, DType::I64, DType::U64, DType::Bool, DType::String})
    if (dtype_name(t) == n) return t;
  if (n == "float") return DType::F32;
  if (n == "double") return DType::F64;
  return DType::Undefined;
}

bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16;
}

bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::I8: case DType::U8: case DType::I16: case DType::U16: case DType::I32:
    case DType::U32: case DType::I64: case DType::U64: return true;
    default: return false;
  }
}

bool dtype_is_known(int32_t v) {
  return (v >= 1 && v <= 13) || v == 16;
}

void throw_unsupported_dtype(DType t) {
  throw Unsupported(fmt::format("element type {} is not supported here", dtype_name(t)));
}

}  // namespace kiln
