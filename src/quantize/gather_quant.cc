// Embedding tables (Gather from a constant float table) stored 8-bit: Gather reads int8 rows and a
// DequantizeLinear turns only the gathered rows back into float, so the table itself shrinks 4x.
#include "quantize/rewrites.h"

namespace kiln::quant {

namespace {
// Small tables (position buckets, relative-attention biases) are left in float: they save nothing
// worth their rounding error.
constexpr int64_t kMinTableElements = 4096;
}  // namespace

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
  if (table->numel() < kMinTableElements) return decline("table under 4096 values");
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

}  // namespace kiln::quant
