// GELU as exporters write it: y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5) (or with the 0.5
// applied to x first) -> com.microsoft Gelu(x); when x = Add(h, bias) with a constant 1-D bias
// read by nothing else -> com.microsoft BiasGelu(h, bias).
#include <cmath>

#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

static bool near(std::optional<float> v, double want) { return v && std::fabs(*v - want) < 1e-4 * std::fabs(want); }

// The fused kernels compute in float32: fuse only where the pattern's constants are float32.
static bool is_f32(const Graph& g, const std::string& v) {
  auto it = g.initializers.find(v);
  return it != g.initializers.end() && it->second.dtype() == DType::F32;
}

int fuse_gelu(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& div = g.nodes[i];
    if (dead.count((int)i)) continue;
    bool by_div = div.op_type == "Div" && near(ix.scalar(div.inputs[1]), std::sqrt(2.0));
    bool by_mul = div.op_type == "Mul" && near(ix.scalar(div.inputs[1]), 1.0 / std::sqrt(2.0));
    if ((!by_div && !by_mul) || !is_f32(g, div.inputs[1])) continue;
    const std::string& x = div.inputs[0];
    int erf_i = ix.sole_reader(div.outputs[0]);
    if (erf_i < 0 || g.nodes[erf_i].op_type != "Erf") continue;
    int add_i = ix.sole_reader(g.nodes[erf_i].outputs[0]);
    if (add_i < 0 || g.nodes[add_i].op_type != "Add") continue;
    const Node& add = g.nodes[add_i];
    std::string one = add.inputs[0] == g.nodes[erf_i].outputs[0] ? add.inputs[1] : add.inputs[0];
    if (!near(ix.scalar(one), 1.0)) continue;
    int m1 = ix.sole_reader(add.outputs[0]);
    if (m1 < 0 || g.nodes[m1].op_type != "Mul") continue;
    const Node& mul1 = g.nodes[m1];
    std::string other = mul1.inputs[0] == add.outputs[0] ? mul1.inputs[1] : mul1.inputs[0];
    std::string out;
    std::vector<int> nodes = {(int)i, erf_i, add_i, m1};
    if (other == x) {  // (x * (1 + erf)) * 0.5
      int m2 = ix.sole_reader(mul1.outputs[0]);
      if (m2 < 0 || g.nodes[m2].op_type != "Mul") continue;
      const Node& mul2 = g.nodes[m2];
      std::string half = mul2.inputs[0] == mul1.outputs[0] ? mul2.inputs[1] : mul2.inputs[0];
      if (!near(ix.scalar(half), 0.5)) continue;
      nodes.push_back(m2);
      out = mul2.outputs[0];
    } else {  // (x * 0.5) * (1 + erf)
      int h = ix.producer(other);
      if (h < 0 || g.nodes[h].op_type != "Mul" || !ix.used_only_by(other, 1)) continue;
      const Node& halfx = g.nodes[h];
      std::string half = halfx.inputs[0] == x ? halfx.inputs[1] : (halfx.inputs[1] == x ? halfx.inputs[0] : "");
      if (!near(ix.scalar(half), 0.5)) continue;
      nodes.push_back(h);
      out = mul1.outputs[0];
    }
    // x is read by the Div and the Mul with 0.5 / (1 + erf): exactly two readers.
    if (!ix.used_only_by(x, 2)) continue;
    Node gelu;
    gelu.domain = "com.microsoft";
    gelu.name = "fused_gelu_" + std::to_string(i);
    gelu.outputs = {out};
    int bias_add = ix.producer(x);
    if (bias_add >= 0 && g.nodes[bias_add].op_type == "Add" && !dead.count(bias_add)) {
      const Node& ba = g.nodes[bias_add];
      int ci = g.initializers.count(ba.inputs[1]) ? 1 : (g.initializers.count(ba.inputs[0]) ? 0 : -1);
      // A 1-D bias of more than one element must match the last dimension for the Add to be valid.
      if (ci >= 0 && g.initializers.at(ba.inputs[ci]).rank() == 1 && g.initializers.at(ba.inputs[ci]).numel() > 1 &&
          g.initializers.at(ba.inputs[ci]).dtype() == DType::F32) {
        gelu.op_type = "BiasGelu";
        gelu.inputs = {ba.inputs[1 - ci], ba.inputs[ci]};
        nodes.push_back(bias_add);
      }
    }
    if (gelu.op_type.empty()) {
      gelu.op_type = "Gelu";
      gelu.inputs = {x};
    }
    for (int k : nodes) dead.insert(k);
    added.push_back(std::move(gelu));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
