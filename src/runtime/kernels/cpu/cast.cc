// Cast (to the type in attribute `to`) and CastLike (to the type of input 1), numeric types and
// strings. Strings parse with strtod/strtoll ("NaN", "INF", "-INF" included); numbers print in the
// shortest form that reads back to the same value, as numpy's str() does.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

Tensor to_strings(const Tensor& x) {
  Tensor out(DType::String, x.shape());
  std::string* o = out.data<std::string>();
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if constexpr (std::is_same_v<T, bool>) o[i] = p[i] ? "True" : "False";
      else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) o[i] = fmt::format("{}", (float)p[i]);
      else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) o[i] = fmt::format("{}", (int)p[i]);
      else o[i] = fmt::format("{}", p[i]);
    }
  });
  return out;
}

Tensor from_strings(const Tensor& x, DType to, const Node& node) {
  Tensor out(to, x.shape());
  const std::string* s = x.data<std::string>();
  dispatch_numeric(to, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const char* b = s[i].c_str();
      char* e = nullptr;
      if constexpr (is_float_v<T>) {
        double v = std::strtod(b, &e);
        KILN_CHECK(e != b, BadInput, "{}: '{}' is not a number", node.label(), s[i]);
        o[i] = static_cast<T>((ComputeT<T>)v);
      } else if constexpr (std::is_same_v<T, bool>) {
        o[i] = !(s[i].empty() || s[i] == "0" || s[i] == "False" || s[i] == "false");
      } else if constexpr (std::is_unsigned_v<T>) {
        unsigned long long v = std::strtoull(b, &e, 10);
        KILN_CHECK(e != b, BadInput, "{}: '{}' is not an integer", node.label(), s[i]);
        o[i] = (T)v;
      } else {
        long long v = std::strtoll(b, &e, 10);
        KILN_CHECK(e != b, BadInput, "{}: '{}' is not an integer", node.label(), s[i]);
        o[i] = (T)v;
      }
    }
  });
  return out;
}

// float -> bfloat16 by dropping the low 16 bits (what the ONNX reference did before opset 19).
Tensor float_to_bf16_truncate(const Tensor& x) {
  Tensor out(DType::BF16, x.shape());
  const float* p = x.data<float>();
  BFloat16* o = out.data<BFloat16>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &p[i], 4);
    o[i] = std::isnan(p[i]) ? BFloat16(p[i]) : BFloat16::from_bits((uint16_t)(bits >> 16));
  }
  return out;
}

Tensor cast_tensor(const Tensor& x, DType to, int64_t opset, const Node& node) {
  if (x.dtype() == to) return x;
  if (to == DType::String) return to_strings(x);
  if (x.dtype() == DType::String) return from_strings(x, to, node);
  if (to == DType::BF16 && x.dtype() == DType::F32 && opset < 19) return float_to_bf16_truncate(x);
  return x.cast(to);
}

// Cast-1 named the target type with a string ("FLOAT", "INT64", ...).
DType onnx_type_name(const std::string& s) {
  static const std::pair<const char*, DType> names[] = {
      {"FLOAT", DType::F32},  {"UINT8", DType::U8},     {"INT8", DType::I8},     {"UINT16", DType::U16},
      {"INT16", DType::I16},  {"INT32", DType::I32},    {"INT64", DType::I64},   {"STRING", DType::String},
      {"BOOL", DType::Bool},  {"FLOAT16", DType::F16},  {"DOUBLE", DType::F64},  {"UINT32", DType::U32},
      {"UINT64", DType::U64}, {"BFLOAT16", DType::BF16}};
  for (const auto& [n, t] : names)
    if (s == n) return t;
  return dtype_from_name(s);
}

class CastKernel : public OpKernel {
 public:
  explicit CastKernel(const KernelInfo& info) : opset_(info.opset) {
    const Attribute* a = info.node.attr("to");
    KILN_CHECK(a, BadModel, "{}: the attribute 'to' is missing", info.node.label());
    int64_t to = a->kind == Attribute::Kind::String ? (int64_t)onnx_type_name(a->s) : a->i;
    KILN_CHECK(dtype_is_known((int32_t)to) && to != 0, Unsupported, "{}: cannot cast to ONNX type {}",
               info.node.label(), to);
    to_ = (DType)to;
  }
  void compute(KernelContext& ctx) override { ctx.set_output(0, cast_tensor(ctx.input(0), to_, opset_, ctx.node())); }

 private:
  DType to_ = DType::Undefined;
  int64_t opset_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_cast_kernels) {
  r.add({DeviceType::Cpu, "", "Cast", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<CastKernel>(info); });
  r.add({DeviceType::Cpu, "", "CastLike", 15, kMaxOpset}, [](const KernelInfo& info) {
    int64_t opset = info.opset;
    return std::make_unique<FunctionKernel>([opset](KernelContext& ctx) {
      ctx.set_output(0, cast_tensor(ctx.input(0), ctx.input(1).dtype(), opset, ctx.node()));
    });
  });
}

}  // namespace kiln::cpu
