#include "runtime/kernels/cpu/common.h"

#include <algorithm>

namespace kiln::cpu {

int normalize_axis(int64_t axis, int rank, const Node& node) {
  int64_t a = axis < 0 ? axis + rank : axis;
  KILN_CHECK(a >= 0 && a < std::max(rank, 1), BadModel, "{}: axis {} is out of range for rank {}", node.label(),
             axis, rank);
  return (int)a;
}

Shape broadcast_shapes(std::span<const Shape> shapes, const Node& node) {
  size_t r = 0;
  for (const auto& s : shapes) r = std::max(r, s.size());
  Shape out(r, 1);
  for (const auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t d = s[s.size() - 1 - i];
      int64_t& o = out[r - 1 - i];
      if (d == o || d == 1) continue;
      if (o == 1) { o = d; continue; }
      std::string list;
      for (const auto& t : shapes) list += (list.empty() ? "" : " and ") + shape_str(t);
      throw BadInput(fmt::format("{}: shapes {} cannot be broadcast together", node.label(), list));
    }
  }
  return out;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size(), 1);
  for (int i = (int)s.size() - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape st(out.size(), 0);
  auto cs = contiguous_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : cs[i];
  return st;
}

std::vector<int64_t> broadcast_offsets(const Shape& in, const Shape& out) {
  std::vector<int64_t> offs((size_t)shape_numel(out));
  for_each_broadcast2(in, in, out, [&](int64_t o, int64_t a, int64_t) { offs[o] = a; });
  return offs;
}

void float_values(const Tensor& t, std::vector<float>& v) {
  v.resize((size_t)t.numel());
  if (t.dtype() == DType::F32 && !v.empty()) return (void)std::copy_n(t.data<float>(), v.size(), v.begin());
  for (size_t i = 0; i < v.size(); ++i) v[i] = (float)t.item_f64((int64_t)i);
}

}  // namespace kiln::cpu
