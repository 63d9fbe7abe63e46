#include "export/cached_attention.h"

namespace kiln::exporting {

std::string split_heads(GraphBuilder& b, const std::string& x, int64_t heads, int64_t head_dim) {
  std::string r = b.op("Reshape", {x, b.const_i64({0, -1, heads, head_dim})});
  return b.op("Transpose", {r}, {{"perm", attr_ints({0, 2, 1, 3})}});
}

std::string merge_heads(GraphBuilder& b, const std::string& x, int64_t heads, int64_t head_dim) {
  std::string t = b.op("Transpose", {x}, {{"perm", attr_ints({0, 2, 1, 3})}});
  return b.op("Reshape", {t, b.const_i64({0, -1, heads * head_dim})});
}

std::string attention_product(GraphBuilder& b, const std::string& q, const std::string& k, const std::string& v,
                              const std::string& bias, float scale) {
  std::string k_t = b.op("Transpose", {k}, {{"perm", attr_ints({0, 1, 3, 2})}});
  std::string scores = b.op("MatMul", {q, k_t});
  if (scale != 1.0f) scores = b.op("Mul", {scores, b.const_f32(scale)});
  if (!bias.empty()) scores = b.op("Add", {scores, bias});
  std::string probs = b.op("Softmax", {scores}, {{"axis", attr_int(-1)}});
  return b.op("MatMul", {probs, v});
}

std::string append_past(GraphBuilder& b, const std::string& past, const std::string& now) {
  if (past.empty()) return now;
  return b.op("Concat", {past, now}, {{"axis", attr_int(2)}});
}

std::string past_length(GraphBuilder& b, const std::string& past) {
  if (past.empty()) return b.const_i64({0}, true);
  return b.op("Gather", {b.op("Shape", {past}), b.const_i64({2}, true)}, {{"axis", attr_int(0)}});
}

}  // namespace kiln::exporting
