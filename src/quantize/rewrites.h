// The op rewrites. Each appends the nodes that replace `node` to `out` and returns true, or
// returns false (after noting why in the stats) and leaves the node to the caller, in float.
#pragma once
#include <vector>

#include "quantize/context.h"

namespace kiln::quantize {

// MatMul and Gemm with a constant float weight: dynamic QOperator (DynamicQuantizeLinear +
// MatMulInteger + Cast + Mul), dynamic or static QDQ, or static QLinearMatMul.
bool quantize_matmul(Context& ctx, const Scope& scope, const Node& node, std::vector<Node>& out);
// Gather from a constant float table (embeddings): the table stored 8-bit, the gathered rows
// dequantized (Gather + DequantizeLinear).
bool quantize_gather(Context& ctx, const Scope& scope, const Node& node, std::vector<Node>& out);

}  // namespace kiln::quantize
