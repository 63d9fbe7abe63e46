// ONNX Runtime's dynamic quantizer (and kiln's) writes each quantized MatMul as
//   acc = MatMulInteger(a_q, b_q, a_zp, b_zp); f = Cast(acc, float); y = Mul(f, Mul(a_scale, b_scale))
// -> com.microsoft MatMulIntegerToFloat(a_q, b_q, a_scale, b_scale, a_zp, b_zp), which dequantises
// in the product's epilogue instead of two more passes over the output.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

int fuse_matmul_integer_to_float(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& mm = g.nodes[i];
    if (mm.op_type != "MatMulInteger" || !canonical_domain(mm.domain).empty() || mm.outputs.empty()) continue;
    int cast_i = ix.sole_reader(mm.outputs[0]);
    if (cast_i < 0 || g.nodes[cast_i].op_type != "Cast" ||
        g.nodes[cast_i].attr_int("to", 0) != (int64_t)DType::F32)
      continue;
    int mul_i = ix.sole_reader(g.nodes[cast_i].outputs[0]);
    if (mul_i < 0 || g.nodes[mul_i].op_type != "Mul" || dead.count(mul_i)) continue;
    const Node& mul = g.nodes[mul_i];
    const std::string& scales = mul.inputs[0] == g.nodes[cast_i].outputs[0] ? mul.inputs[1] : mul.inputs[0];
    // The scale must be the product of A's (one value) and B's scale (one value or one per column).
    int sm_i = ix.producer(scales);
    if (sm_i < 0 || g.nodes[sm_i].op_type != "Mul") continue;
    const Node& sm = g.nodes[sm_i];
    int b_side = g.initializers.count(sm.inputs[1]) ? 1 : (g.initializers.count(sm.inputs[0]) ? 0 : -1);
    if (b_side < 0) continue;
    const Tensor& b_scale = g.initializers.at(sm.inputs[b_side]);
    const Tensor* b = g.initializers.count(mm.inputs[1]) ? &g.initializers.at(mm.inputs[1]) : nullptr;
    if (b_scale.dtype() != DType::F32 || b_scale.rank() > 1 || !b ||
        (b_scale.numel() != 1 && b_scale.numel() != b->dim(-1)))
      continue;
    Node fused;
    fused.op_type = "MatMulIntegerToFloat";
    fused.domain = "com.microsoft";
    fused.name = mm.name.empty() ? "fused_matmul_integer_to_float_" + std::to_string(i) : mm.name + "_to_float";
    auto in = [&](size_t k) { return k < mm.inputs.size() ? mm.inputs[k] : std::string(); };
    fused.inputs = {in(0), in(1), sm.inputs[1 - b_side], sm.inputs[b_side], in(2), in(3)};
    fused.outputs = {mul.outputs[0]};
    // A constant bias Add after the Mul joins the epilogue too.
    int add_i = ix.sole_reader(mul.outputs[0]);
    if (add_i >= 0 && !dead.count(add_i) && g.nodes[add_i].op_type == "Add") {
      const Node& add = g.nodes[add_i];
      const std::string& other = add.inputs[0] == mul.outputs[0] ? add.inputs[1] : add.inputs[0];
      auto bias = g.initializers.find(other);
      if (bias != g.initializers.end() && bias->second.dtype() == DType::F32 && bias->second.rank() == 1 &&
          bias->second.numel() == b->dim(-1)) {
        fused.inputs.push_back(other);
        fused.outputs = {add.outputs[0]};
        dead.insert(add_i);
      }
    }
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    dead.insert((int)i);
    dead.insert(cast_i);
    dead.insert(mul_i);
    added.push_back(std::move(fused));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
