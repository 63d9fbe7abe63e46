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
  return absorb_residual_adds(
      g,
      [](const Node& mm) {
        const std::string d = canonical_domain(mm.domain);
        return mm.op_type == "MatMulIntegerToFloat" && (d == "com.microsoft" || d == "kiln") &&
               !mm.attributes.count("activation") && mm.inputs.size() <= 7;
      },
      [](Node& mm, const std::string& residual) {
        mm.domain = "kiln";
        mm.inputs.resize(7);  // the optional inputs up to the bias, empty where absent
        mm.inputs.push_back(residual);
      });
}

}  // namespace kiln
