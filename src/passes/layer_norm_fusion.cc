// LayerNorm as exporters write it before opset 17:
//   mean = ReduceMean(x, axes=[-1]); d = Sub(x, mean); var = ReduceMean(Pow(d, 2), axes=[-1])
//   y = Add(Mul(Div(d, Sqrt(Add(var, eps))), gamma), beta)
// -> com.microsoft LayerNormalization(x, gamma, beta, axis=-1, epsilon=eps), as ONNX Runtime does.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool reduces_last_axis(const Node& n, const Graph& g) {
  if (n.op_type != "ReduceMean" || n.attr_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {  // opset 18: axes as an input
    auto it = g.initializers.find(n.inputs[1]);
    if (it == g.initializers.end()) return false;
    axes = it->second.to_i64_vector();
  }
  return axes.size() == 1 && axes[0] == -1;
}

// The other input of a binary node, given one of them.
std::string other_input(const Node& n, const std::string& one) {
  if (n.inputs.size() != 2) return "";
  return n.inputs[0] == one ? n.inputs[1] : (n.inputs[1] == one ? n.inputs[0] : "");
}

}  // namespace

int fuse_layer_norm(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& mean = g.nodes[i];
    if (dead.count((int)i) || !reduces_last_axis(mean, g)) continue;
    const std::string& x = mean.inputs[0];
    // Sub(x, mean) read by Pow and Div.
    const auto& mc = ix.consumers(mean.outputs[0]);
    if (mc.size() != 1 || mc[0] < 0) continue;
    const Node& sub = g.nodes[mc[0]];
    if (sub.op_type != "Sub" || sub.inputs[0] != x || sub.inputs[1] != mean.outputs[0]) continue;
    const std::string& d = sub.outputs[0];
    if (!ix.used_only_by(d, 2)) continue;
    int pow_i = -1, div_i = -1;
    for (int c : ix.consumers(d)) {
      if (c < 0) break;
      const Node& n = g.nodes[c];
      if (n.op_type == "Pow" && n.inputs[0] == d && ix.scalar(n.inputs[1]) == 2.0f) pow_i = c;
      else if (n.op_type == "Mul" && n.inputs[0] == d && n.inputs[1] == d) pow_i = c;
      else if (n.op_type == "Div" && n.inputs[0] == d) div_i = c;
    }
    if (pow_i < 0 || div_i < 0) continue;
    auto single = [&](const std::string& v) -> int {
      const auto& c = ix.consumers(v);
      return ix.used_only_by(v, 1) && c[0] >= 0 ? c[0] : -1;
    };
    int var_i = single(g.nodes[pow_i].outputs[0]);
    if (var_i < 0 || !reduces_last_axis(g.nodes[var_i], g)) continue;
    int add_eps_i = single(g.nodes[var_i].outputs[0]);
    if (add_eps_i < 0 || g.nodes[add_eps_i].op_type != "Add") continue;
    auto eps = ix.scalar(other_input(g.nodes[add_eps_i], g.nodes[var_i].outputs[0]));
    if (!eps) continue;
    int sqrt_i = single(g.nodes[add_eps_i].outputs[0]);
    if (sqrt_i < 0 || g.nodes[sqrt_i].op_type != "Sqrt") continue;
    const Node& div = g.nodes[div_i];
    if (div.inputs[1] != g.nodes[sqrt_i].outputs[0] || !ix.used_only_by(g.nodes[sqrt_i].outputs[0], 1)) continue;
    int mul_i = single(div.outputs[0]);
    if (mul_i < 0 || g.nodes[mul_i].op_type != "Mul") continue;
    std::string gamma = other_input(g.nodes[mul_i], div.outputs[0]);
    if (gamma.empty() || !g.initializers.count(gamma)) continue;
    int add_i = single(g.nodes[mul_i].outputs[0]);
    if (add_i < 0 || g.nodes[add_i].op_type != "Add") continue;
    std::string beta = other_input(g.nodes[add_i], g.nodes[mul_i].outputs[0]);
    if (beta.empty() || !g.initializers.count(beta)) continue;
    const Tensor& tg = g.initializers.at(gamma);
    const Tensor& tb = g.initializers.at(beta);
    if (tg.rank() != 1 || tb.rank() != 1 || tg.dtype() != DType::F32 || tb.dtype() != DType::F32) continue;

    Node ln;
    ln.op_type = "LayerNormalization";
    ln.domain = "com.microsoft";
    ln.name = mean.name.empty() ? "fused_layer_norm_" + std::to_string(i) : mean.name + "/fused_layer_norm";
    ln.inputs = {x, gamma, beta};
    ln.outputs = {g.nodes[add_i].outputs[0]};
    Attribute axis, epsilon;
    axis.kind = Attribute::Kind::Int;
    axis.i = -1;
    epsilon.kind = Attribute::Kind::Float;
    epsilon.f = *eps;
    ln.attributes = {{"axis", axis}, {"epsilon", epsilon}};
    for (int k : {(int)i, mc[0], pow_i, div_i, var_i, add_eps_i, sqrt_i, mul_i, add_i}) dead.insert(k);
    added.push_back(std::move(ln));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
