// A matrix product whose only reader is a GELU takes the GELU into its epilogue, so the FFN's
// widest activation is written once instead of written, read and written again:
//   MatMul(x, constant W)               -> BiasGelu(., b)  => kiln:MatMulBias(x, W, b) {activation: Gelu}
//   MatMulIntegerToFloat(..., no bias)  -> BiasGelu(., b)  => kiln:MatMulIntegerToFloat(..., b) {activation: Gelu}
//   kiln:MatMulBias / MatMulIntegerToFloat -> Gelu          => the same op {activation: Gelu}
// A session-time rewrite (level 2): kiln never saves these ops.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool is_ms(const Node& n, const char* op) { return n.op_type == op && canonical_domain(n.domain) == "com.microsoft"; }

// A constant float32 vector of n values.
bool is_bias(const Graph& g, const std::string& name, int64_t n) {
  auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.dtype() == DType::F32 && it->second.rank() == 1 &&
         it->second.numel() == n;
}

// The width N of a product's constant 2-D weight (input 1), or -1.
int64_t weight_width(const Graph& g, const Node& n) {
  if (n.inputs.size() < 2) return -1;
  auto it = g.initializers.find(n.inputs[1]);
  if (it == g.initializers.end() || it->second.rank() != 2) return -1;
  return it->second.dim(1);
}

Attribute gelu_attribute() {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = "Gelu";
  return a;
}

}  // namespace

int fuse_matmul_gelu(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act = g.nodes[i];
    bool bias_gelu = is_ms(act, "BiasGelu") && act.inputs.size() == 2;
    bool gelu = is_ms(act, "Gelu") && act.inputs.size() == 1;
    if (!bias_gelu && !gelu) continue;
    int p = ix.producer(act.inputs[0]);
    if (p < 0 || dead.count(p) || !ix.used_only_by(act.inputs[0], 1)) continue;
    const Node& mm = g.nodes[p];
    if (mm.attributes.count("activation")) continue;
    int64_t N = weight_width(g, mm);
    if (N <= 0 || (bias_gelu && !is_bias(g, act.inputs[1], N))) continue;
    Node fused = mm;
    fused.name = (mm.name.empty() ? "fused_matmul_" + std::to_string(p) : mm.name) + "_gelu";
    fused.outputs = act.outputs;
    fused.attributes["activation"] = gelu_attribute();
    bool plain_matmul = mm.op_type == "MatMul" && canonical_domain(mm.domain).empty() && mm.inputs.size() == 2;
    bool matmul_bias = mm.op_type == "MatMulBias" && mm.domain == "kiln";
    bool int_to_float =
        mm.op_type == "MatMulIntegerToFloat" && (canonical_domain(mm.domain) == "com.microsoft" || mm.domain == "kiln");
    if (plain_matmul || matmul_bias) {
      auto w = g.initializers.find(mm.inputs[1]);
      if (w->second.dtype() != DType::F32) continue;
      if (plain_matmul && gelu) continue;  // a bare MatMul + Gelu: no bias to carry, leave it
      if (matmul_bias && bias_gelu) continue;  // two biases
      fused.op_type = "MatMulBias";
      fused.domain = "kiln";
      if (plain_matmul) fused.inputs.push_back(act.inputs[1]);
    } else if (int_to_float) {
      bool has_bias = mm.inputs.size() > 6 && !mm.inputs[6].empty();
      if (has_bias && bias_gelu) continue;
      fused.domain = "kiln";
      if (bias_gelu) {
        fused.inputs.resize(6);
        fused.inputs.push_back(act.inputs[1]);
      }
    } else {
      continue;
    }
    dead.insert((int)i);
    dead.insert(p);
    added.push_back(std::move(fused));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
