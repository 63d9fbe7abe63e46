// The quantized activations of DynamicQuantizeLinear in the order kiln's VNNI product reads them
// (runtime/kernels/cpu/row_tiles.h): when every reader of a DynamicQuantizeLinear's output 0 is a
// MatMulIntegerToFloat that takes it as A, with a constant 2-D 8-bit B whose K is a multiple of 4,
// the quantizer and those products get the attribute row_tiles = 1. The quantizer then writes each
// 12-row tile's bytes K-group by K-group, and each product reads the 48 bytes of one step over K from
// one place instead of 4 bytes from each of 12 rows (the quantizer writes every byte anyway, so the
// rearranging is nearly free; the product ran 6-15 % faster). A product that cannot read them so
// (no VNNI, a B of another shape at run time) rearranges them back first.
// Session-time only (level 2), for CPU sessions whose int8 products run kiln's VNNI kernel (not its AMX
// kernel, which reads A's rows in place); never saved.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// A MatMulIntegerToFloat reading `v` as A only, with a constant 2-D 8-bit B of K a multiple of 4.
bool reads_row_tiles(const Graph& g, const Node& n, const std::string& v) {
  const std::string d = canonical_domain(n.domain);
  if (n.op_type != "MatMulIntegerToFloat" || (d != "kiln" && d != "com.microsoft") || n.inputs.size() < 4 ||
      n.inputs[0] != v)
    return false;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] == v) return false;
  auto b = g.initializers.find(n.inputs[1]);
  if (b == g.initializers.end()) return false;
  const Tensor& t = b->second;
  return (t.dtype() == DType::U8 || t.dtype() == DType::I8) && t.rank() == 2 && t.dim(0) > 0 && t.dim(0) % 4 == 0;
}

}  // namespace

int tile_quantized_activations(Graph& g) {
  GraphIndex ix(g);
  int marked = 0;
  for (Node& q : g.nodes) {
    const std::string d = canonical_domain(q.domain);
    if (q.op_type != "DynamicQuantizeLinear" || (!d.empty() && d != "kiln") || q.outputs.empty() ||
        q.outputs[0].empty() || q.attributes.count("row_tiles"))
      continue;
    const std::string& y = q.outputs[0];
    const auto& readers = ix.consumers(y);
    if (readers.empty() || !ix.used_only_by(y, readers.size())) continue;
    bool ok = true;
    for (int r : readers)
      ok = ok && r >= 0 && !g.nodes[r].attributes.count("row_tiles") && reads_row_tiles(g, g.nodes[r], y);
    if (!ok) continue;
    q.attributes["row_tiles"] = attr_int(1);
    for (int r : readers) g.nodes[r].attributes["row_tiles"] = attr_int(1);
    ++marked;
  }
  return marked;
}

}  // namespace kiln
