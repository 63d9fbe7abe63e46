// A dequantizing product whose only reader is an Add of another float tensor (the transformer's
// residual: Add(out_proj(x), x), Add(ffn_out(h), h)) takes the Add into its epilogue:
//   MatMulIntegerToFloat(A, B, ..., bias) -> Add(., r)  =>  kiln:MatMulIntegerToFloat(A, B, ..., bias, r)
// The sum is computed as the Add computes it (((acc * scale) + bias) + r, float32, in that order), so
// the values are the same, and the product's output is not written, read back and written again. When
// r does not have the product's shape at run time (it broadcasts), the kernel adds it afterwards.
// Session-time only (level 2), never saved.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

int fuse_matmul_integer_residual(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& mm = g.nodes[i];
    const std::string d = canonical_domain(mm.domain);
    if (mm.op_type != "MatMulIntegerToFloat" || (d != "com.microsoft" && d != "kiln") || mm.outputs.size() != 1 ||
        mm.attributes.count("activation") || mm.inputs.size() > 7)
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
    mm.domain = "kiln";
    mm.inputs.resize(7);
    mm.inputs.push_back(r);
    mm.outputs = add.outputs;
    dead.insert(readers[0]);
    ++fused;
  }
  replace_nodes(g, dead, {});
  return fused;
}

}  // namespace kiln
