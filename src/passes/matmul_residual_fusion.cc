// A float product with a bias whose only reader is an Add of another tensor (the transformer's
// residual: Add(out_proj(x), x), Add(ffn_out(h), h)) takes the Add into its epilogue:
//   kiln:MatMulBias(x, W, b) -> Add(., r)  =>  kiln:MatMulBias(x, W, b, r)
// The kernel adds r after the bias ((sum + b) + r, float32, the order of the two Adds), so the values
// are those of the nodes run apart, and the product's output is not written, read back and written
// again. When r does not have the product's shape at run time (it broadcasts), the kernel adds it
// afterwards. Runs after fuse_matmul_bias and fuse_matmul_gelu (a product with GELU is left alone).
// Session-time only (level 2), never saved.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

int fuse_matmul_bias_residual(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& mm = g.nodes[i];
    if (mm.op_type != "MatMulBias" || canonical_domain(mm.domain) != "kiln" || mm.inputs.size() != 3 ||
        mm.outputs.size() != 1 || mm.attributes.count("activation"))
      continue;
    const std::string& y = mm.outputs[0];
    const auto& readers = ix.consumers(y);
    if (!ix.used_only_by(y, 1) || readers.size() != 1 || readers[0] < 0 || dead.count(readers[0])) continue;
    const Node& add = g.nodes[readers[0]];
    if (add.op_type != "Add" || !canonical_domain(add.domain).empty() || add.inputs.size() != 2 ||
        add.outputs.size() != 1 || add.inputs[0] == add.inputs[1])
      continue;
    const std::string& r = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
    if (r.empty()) continue;
    mm.inputs.push_back(r);
    mm.outputs = add.outputs;
    dead.insert(readers[0]);
    ++fused;
  }
  replace_nodes(g, dead, {});
  return fused;
}

}  // namespace kiln
