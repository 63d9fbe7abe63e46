// MatMul(x, W) followed by Add(., b), with W a constant float32 matrix and b a constant 1-D float32
// bias of W's width (every Linear layer as exporters write it) -> kiln:MatMulBias(x, W, b), whose
// bias oneDNN adds in the product's epilogue. A session-time rewrite: kiln never saves this op.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

int fuse_matmul_bias(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& mm = g.nodes[i];
    if (mm.op_type != "MatMul" || !canonical_domain(mm.domain).empty() || mm.inputs.size() != 2) continue;
    auto w = g.initializers.find(mm.inputs[1]);
    if (w == g.initializers.end() || w->second.dtype() != DType::F32 || w->second.rank() != 2) continue;
    if (!ix.used_only_by(mm.outputs[0], 1)) continue;
    int add_i = ix.consumers(mm.outputs[0])[0];
    if (add_i < 0 || dead.count(add_i)) continue;
    const Node& add = g.nodes[add_i];
    if (add.op_type != "Add" || !canonical_domain(add.domain).empty()) continue;
    const std::string& other = add.inputs[0] == mm.outputs[0] ? add.inputs[1] : add.inputs[0];
    auto b = g.initializers.find(other);
    if (b == g.initializers.end() || b->second.dtype() != DType::F32 || b->second.rank() != 1 ||
        b->second.numel() != w->second.dim(1))
      continue;
    Node fused;
    fused.op_type = "MatMulBias";
    fused.domain = "kiln";
    fused.name = mm.name.empty() ? "fused_matmul_bias_" + std::to_string(i) : mm.name + "_bias";
    fused.inputs = {mm.inputs[0], mm.inputs[1], other};
    fused.outputs = {add.outputs[0]};
    dead.insert((int)i);
    dead.insert(add_i);
    added.push_back(std::move(fused));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
