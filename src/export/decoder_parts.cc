#include "export/decoder_parts.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace kiln::exporting {

int64_t config_positive(const nlohmann::json& c, const char* key, int64_t dflt) {
  const auto it = c.find(key);
  int64_t v = dflt;
  if (it != c.end() && !it->is_null()) {
    KILN_CHECK(it->is_number_integer(), BadModel, "config.json: {} must be an integer, got {}", key, it->dump());
    v = it->get<int64_t>();
  }
  KILN_CHECK(v > 0, BadModel, "config.json: {} must be positive, got {}", key, v);
  return v;
}

Dim dyn(const std::string& name) { return Dim{std::nullopt, name}; }
Dim fixed(int64_t n) { return Dim{n, ""}; }

static const char* const kActivations[] = {
    "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish", "tanh", "linear"};

void check_activation(const std::string& name, const std::string& where) {
  for (const char* a : kActivations)
    if (name == a) return;
  std::string list;
  for (const char* a : kActivations) list += (list.empty() ? "" : ", ") + std::string(a);
  throw Unsupported(fmt::format("{}: activation '{}' is not supported ({})", where, name, list));
}

// 0.5 * x * (1 + tanh(inner)), as transformers writes the tanh approximations.
static std::string half_x_one_plus_tanh(GraphBuilder& b, const std::string& x, const std::string& inner) {
  std::string half_x = b.op("Mul", {x, b.const_f32(0.5f)});
  return b.op("Mul", {half_x, b.op("Add", {b.op("Tanh", {inner}), b.const_f32(1.0f)})});
}

std::string activation(GraphBuilder& b, const std::string& x, const std::string& name) {
  if (name == "gelu") return b.gelu(x);
  if (name == "relu") return b.op("Relu", {x});
  if (name == "silu" || name == "swish") return b.op("Mul", {x, b.op("Sigmoid", {x})});
  if (name == "tanh") return b.op("Tanh", {x});
  if (name == "linear") return x;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") {
    // sqrt(2 / pi) * (x + 0.044715 * x^3)
    std::string cube = b.op("Pow", {x, b.const_f32(3.0f)});
    std::string sum = b.op("Add", {x, b.op("Mul", {cube, b.const_f32(0.044715f)})});
    return half_x_one_plus_tanh(b, x, b.op("Mul", {sum, b.const_f32((float)std::sqrt(2.0 / std::numbers::pi))}));
  }
  if (name == "gelu_fast") {
    // x * 0.7978845608 * (1 + 0.044715 * x^2)
    std::string sq = b.op("Mul", {x, x});
    std::string poly = b.op("Add", {b.op("Mul", {sq, b.const_f32(0.044715f)}), b.const_f32(1.0f)});
    return half_x_one_plus_tanh(b, x, b.op("Mul", {b.op("Mul", {x, b.const_f32(0.7978845608f)}), poly}));
  }
  if (name == "quick_gelu") return b.op("Mul", {x, b.op("Sigmoid", {b.op("Mul", {x, b.const_f32(1.702f)})})});
  check_activation(name, "activation");
  return x;  // not reached
}

std::string dim_of(GraphBuilder& b, const std::string& x, int64_t axis) {
  return b.op("Gather", {b.op("Shape", {x}), b.const_i64({axis}, true)}, {{"axis", attr_int(0)}});
}

std::string scores(GraphBuilder& b, const std::string& q, const std::string& k) {
  return b.op("MatMul", {q, b.op("Transpose", {k}, {{"perm", attr_ints({0, 1, 3, 2})}})});
}

std::string attend(GraphBuilder& b, const std::string& s, const std::string& v, int64_t heads, int64_t head_dim) {
  std::string probs = b.op("Softmax", {s}, {{"axis", attr_int(-1)}});
  return merge_heads(b, b.op("MatMul", {probs, v}), heads, head_dim);
}

std::string padding_mask(GraphBuilder& b, const std::string& mask) {
  // transformers: (1 - mask).masked_fill(nonzero, finfo.min), i.e. 0 only where the mask is 1.
  std::string keep = b.op("Equal", {mask, b.const_i64({1}, true)});
  std::string add = b.op("Where", {keep, b.const_f32(0.0f), b.const_f32(std::numeric_limits<float>::lowest())});
  return b.op("Unsqueeze", {add, b.const_i64({1, 2})});
}

std::string positions(GraphBuilder& b, const std::string& past_len, const std::string& new_len) {
  std::string end = b.op("Add", {past_len, new_len});
  return b.op("Range", {past_len, end, b.const_i64({1}, true)});
}

std::string causal_future(GraphBuilder& b, const std::string& past_len, const std::string& new_len) {
  std::string total = b.op("Add", {past_len, new_len});
  std::string keys = b.op("Range", {b.const_i64({0}, true), total, b.const_i64({1}, true)});     // [total]
  std::string queries = b.op("Unsqueeze", {positions(b, past_len, new_len), b.const_i64({1})});  // [new, 1]
  return b.op("Greater", {keys, queries});
}

}  // namespace kiln::exporting
