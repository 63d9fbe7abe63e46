// Embedding tables (Gather from a constant float table) stored 8-bit: Gather reads int8 rows and a
// DequantizeLinear turns only the gathered rows back into float, so the table itself shrinks 4x.
#include "quantize/rewrites.h"

namespace kiln::quantize {

bool quantize_gather(Context& ctx, const Scope& scope, const Node& n, std::vector<Node>& out) {
  const Options& o = ctx.options();
  auto decline = [&](const std::string& why) {
    ctx.stats().left_float[n.op_type]++;
    ctx.stats().reasons[why]++;
    return false;
  };
  if (n.inputs.size() < 2 || n.outputs.empty()) return decline("malformed node");
  Graph* owner = nullptr;
  const Tensor* table = ctx.find_weight(scope, n.inputs[0], &owner);
  if (!table) {
    // Gathers over shapes and other computed values are not candidates at all.
    if (ctx.is_constant(scope, n.inputs[0])) return decline("table is not float32");
    return false;
  }
  // ONNX Runtime's quantizer takes every float table, token-type and relative-attention tables
  // included; --min-embedding-elements leaves small ones in float (they save little).
  if (table->numel() < o.min_embedding_elements)
    return decline("table under " + std::to_string(o.min_embedding_elements) + " values");
  // Per tensor: the gathered rows can be dequantized with one scale whatever the indices are.
  QValue q = ctx.weight(*owner, n.inputs[0], "", *table, o.weight_type, o.weight_symmetric, -1);
  ctx.replaced(n.inputs[0]);
  const std::string& y = n.outputs[0];
  std::string gq = ctx.fresh(y + "_quantized");
  Node g = n;
  g.inputs[0] = q.q;
  g.outputs[0] = gq;
  out.push_back(std::move(g));
  out.push_back(ctx.make_node("DequantizeLinear", {gq, q.scale, q.zero_point}, {y}, y + "_DequantizeLinear"));
  ctx.stats().quantized[n.op_type]++;
  ctx.stats().quantized_nodes.push_back(n.name);
  return true;
}

}  // namespace kiln::quantize
