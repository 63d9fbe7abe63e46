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
  return absorb_residual_adds(
      g,
      [](const Node& mm) {
        return mm.op_type == "MatMulBias" && canonical_domain(mm.domain) == "kiln" && mm.inputs.size() == 3 &&
               !mm.attributes.count("activation");
      },
      [](Node& mm, const std::string& residual) { mm.inputs.push_back(residual); });
}

}  // namespace kiln
