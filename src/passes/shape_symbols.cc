#include "passes/shape_symbols.h"

#include <algorithm>

namespace kiln {

namespace {

constexpr int kMaxDepth = 24;

bool onnx_op(const Node& n, const char* op) { return n.op_type == op && canonical_domain(n.domain).empty(); }

bool integer_type(DType t) { return t == DType::I64 || t == DType::I32; }

}  // namespace

SymDim SymDim::atom(const std::string& value, int64_t i) { return SymDim{1, {value + "#" + std::to_string(i)}}; }

SymDim SymDim::operator*(const SymDim& o) const {
  SymDim r{coef * o.coef, atoms};
  r.atoms.insert(r.atoms.end(), o.atoms.begin(), o.atoms.end());
  std::sort(r.atoms.begin(), r.atoms.end());
  if (r.coef == 0) r.atoms.clear();
  return r;
}

std::string SymDim::str() const {
  std::string s = std::to_string(coef);
  for (const auto& a : atoms) s += "*" + a;
  return s;
}

std::optional<std::vector<std::optional<SymDim>>> ShapeSymbols::entries(const std::string& v, int depth) const {
  using Entries = std::vector<std::optional<SymDim>>;
  if (depth > kMaxDepth) return std::nullopt;
  if (auto it = g_.initializers.find(v); it != g_.initializers.end()) {
    const Tensor& t = it->second;
    if (!integer_type(t.dtype()) || t.rank() > 1) return std::nullopt;
    Entries e;
    for (int64_t x : t.to_i64_vector()) e.push_back(SymDim::constant(x));
    return e;
  }
  int p = ix_.producer(v);
  if (p < 0) return std::nullopt;
  const Node& n = g_.nodes[p];
  if (n.inputs.empty() || n.outputs.size() != 1) return std::nullopt;
  auto one_element = [&](const std::string& in) -> std::optional<Entries> {
    auto e = entries(in, depth + 1);
    if (!e || e->size() != 1) return std::nullopt;
    return e;
  };
  if (onnx_op(n, "Identity")) return entries(n.inputs[0], depth + 1);
  if (onnx_op(n, "Cast")) {
    if (!integer_type((DType)n.attr_int("to", 0))) return std::nullopt;
    return entries(n.inputs[0], depth + 1);
  }
  if (onnx_op(n, "Unsqueeze") || onnx_op(n, "Squeeze")) return one_element(n.inputs[0]);
  if (onnx_op(n, "Shape")) {
    auto r = rank(n.inputs[0], depth + 1);
    if (!r) return std::nullopt;
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", *r);
    if (start < 0) start += *r;
    if (end < 0) end += *r;
    start = std::clamp<int64_t>(start, 0, *r);
    end = std::clamp<int64_t>(end, 0, *r);
    Entries e;
    for (int64_t i = start; i < end; ++i) e.push_back(dim(n.inputs[0], i, depth + 1));
    return e;
  }
  if (onnx_op(n, "Gather") && n.inputs.size() == 2 && n.attr_int("axis", 0) == 0) {
    auto idx = g_.initializers.find(n.inputs[1]);
    if (idx == g_.initializers.end() || idx->second.numel() != 1 || !integer_type(idx->second.dtype()))
      return std::nullopt;
    int64_t i = idx->second.item_i64(0);
    int sp = ix_.producer(n.inputs[0]);
    // Shape(x)[i]: dimension i of x, whether or not x's rank is known.
    if (i >= 0 && sp >= 0 && onnx_op(g_.nodes[sp], "Shape") && !g_.nodes[sp].has_attr("start") &&
        !g_.nodes[sp].has_attr("end"))
      return Entries{dim(g_.nodes[sp].inputs[0], i, depth + 1)};
    auto data = entries(n.inputs[0], depth + 1);
    if (!data) return std::nullopt;
    if (i < 0) i += (int64_t)data->size();
    if (i < 0 || i >= (int64_t)data->size()) return std::nullopt;
    return Entries{(*data)[(size_t)i]};
  }
  if (onnx_op(n, "Concat")) {
    int64_t axis = n.attr_int("axis", 0);
    if (axis != 0 && axis != -1) return std::nullopt;  // the parts are 1-D: both name the only axis
    Entries all;
    for (const auto& in : n.inputs) {
      auto e = entries(in, depth + 1);
      if (!e) return std::nullopt;
      all.insert(all.end(), e->begin(), e->end());
    }
    return all;
  }
  if (onnx_op(n, "Mul") && n.inputs.size() == 2) {
    auto a = one_element(n.inputs[0]), b = one_element(n.inputs[1]);
    if (!a || !b) return std::nullopt;
    if (!(*a)[0] || !(*b)[0]) return Entries{std::nullopt};
    return Entries{*(*a)[0] * *(*b)[0]};
  }
  return std::nullopt;
}

SymDim ShapeSymbols::dim(const std::string& v, int64_t i, int depth) const {
  const SymDim self = SymDim::atom(v, i);
  if (depth > kMaxDepth || i < 0) return self;
  for (const auto& in : g_.inputs)
    if (in.name == v) {
      if (in.shape && i < (int64_t)in.shape->size() && (*in.shape)[(size_t)i].value)
        return SymDim::constant(*(*in.shape)[(size_t)i].value);
      return self;
    }
  if (auto it = g_.initializers.find(v); it != g_.initializers.end())
    return i < it->second.rank() ? SymDim::constant(it->second.dim((int)i)) : self;
  int p = ix_.producer(v);
  if (p < 0) return self;
  const Node& n = g_.nodes[p];
  if (n.outputs.size() != 1 || n.inputs.empty()) return self;
  if (onnx_op(n, "Reshape") && n.inputs.size() == 2) {
    auto e = entries(n.inputs[1], depth + 1);
    if (e && i < (int64_t)e->size() && (*e)[(size_t)i]) {
      const SymDim& d = *(*e)[(size_t)i];
      if (d.coef > 0) return d;  // 0 (copy, or zero with allowzero) and -1 (inferred): not the size
    }
    return self;
  }
  if (onnx_op(n, "Transpose")) {
    auto perm = n.attr_ints("perm");
    if (i < (int64_t)perm.size()) return dim(n.inputs[0], perm[(size_t)i], depth + 1);
    return self;
  }
  if (onnx_op(n, "Concat")) {
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) {
      auto r = rank(v, depth + 1);
      if (!r) return self;
      axis += *r;
    }
    if (axis == i) return self;
    // Off the concatenation axis every input has the same size: take one that is known.
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      SymDim d = dim(in, i, depth + 1);
      if (d != SymDim::atom(in, i)) return d;
    }
    return self;
  }
  return self;
}

std::optional<int64_t> ShapeSymbols::rank(const std::string& v, int depth) const {
  if (depth > kMaxDepth) return std::nullopt;
  for (const auto& in : g_.inputs)
    if (in.name == v) return in.shape ? std::optional<int64_t>((int64_t)in.shape->size()) : std::nullopt;
  if (auto it = g_.initializers.find(v); it != g_.initializers.end()) return it->second.rank();
  int p = ix_.producer(v);
  if (p < 0) return std::nullopt;
  const Node& n = g_.nodes[p];
  if (onnx_op(n, "Reshape") && n.inputs.size() == 2) {
    auto e = entries(n.inputs[1], depth + 1);
    if (e) return (int64_t)e->size();
    return std::nullopt;
  }
  if (onnx_op(n, "Transpose")) {
    if (n.has_attr("perm")) return (int64_t)n.attr_ints("perm").size();
    return rank(n.inputs[0], depth + 1);
  }
  if (onnx_op(n, "Concat")) {
    for (const auto& in : n.inputs)
      if (auto r = rank(in, depth + 1)) return r;
  }
  return std::nullopt;
}

}  // namespace kiln
