// LayerNorm as exporters write it before opset 17:
//   mean = ReduceMean(x, axes=[-1]); d = Sub(x, mean); var = ReduceMean(Pow(d, 2), axes=[-1])
//   y = Add(Mul(Div(d, Sqrt(Add(var, eps))), gamma), beta)
// -> com.microsoft LayerNormalization(x, gamma, beta, axis=-1, epsilon=eps), as ONNX Runtime does.
// T5's LayerNorm (no mean, no bias; transformers' T5LayerNorm, also LLaMA's RMSNorm) as
// torch.onnx.export writes it:
//   ms = ReduceMean(Pow(x, 2), axes=[-1]); r = Sqrt(Add(ms, eps))
//   y = Mul(w, Mul(x, Div(1, r)))      (or Reciprocal(r), or Div(x, r))
// -> com.microsoft SimplifiedLayerNormalization(x, w, axis=-1, epsilon=eps), as ONNX Runtime does:
// one kernel instead of seven, and x / r rounded once instead of 1 / r and x * (1 / r) each.
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
    int var_i = ix.sole_reader(g.nodes[pow_i].outputs[0]);
    if (var_i < 0 || !reduces_last_axis(g.nodes[var_i], g)) continue;
    int add_eps_i = ix.sole_reader(g.nodes[var_i].outputs[0]);
    if (add_eps_i < 0 || g.nodes[add_eps_i].op_type != "Add") continue;
    auto eps = ix.scalar(other_input(g.nodes[add_eps_i], g.nodes[var_i].outputs[0]));
    if (!eps) continue;
    int sqrt_i = ix.sole_reader(g.nodes[add_eps_i].outputs[0]);
    if (sqrt_i < 0 || g.nodes[sqrt_i].op_type != "Sqrt") continue;
    const Node& div = g.nodes[div_i];
    if (div.inputs[1] != g.nodes[sqrt_i].outputs[0] || !ix.used_only_by(g.nodes[sqrt_i].outputs[0], 1)) continue;
    int mul_i = ix.sole_reader(div.outputs[0]);
    if (mul_i < 0 || g.nodes[mul_i].op_type != "Mul") continue;
    std::string gamma = other_input(g.nodes[mul_i], div.outputs[0]);
    if (gamma.empty() || !g.initializers.count(gamma)) continue;
    int add_i = ix.sole_reader(g.nodes[mul_i].outputs[0]);
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
    ln.attributes = {{"axis", attr_int(-1)}, {"epsilon", attr_float(*eps)}};
    for (int k : {(int)i, mc[0], pow_i, div_i, var_i, add_eps_i, sqrt_i, mul_i, add_i}) dead.insert(k);
    added.push_back(std::move(ln));
  }
  return replace_nodes(g, dead, std::move(added));
}

int fuse_rms_norm(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& pow = g.nodes[i];
    if (dead.count((int)i)) continue;
    const bool squares = (pow.op_type == "Pow" && pow.inputs.size() == 2 && ix.scalar(pow.inputs[1]) == 2.0f) ||
                         (pow.op_type == "Mul" && pow.inputs.size() == 2 && pow.inputs[0] == pow.inputs[1]);
    if (!squares || !canonical_domain(pow.domain).empty()) continue;
    const std::string& x = pow.inputs[0];
    const int mean_i = ix.sole_reader(pow.outputs[0]);
    if (mean_i < 0 || !reduces_last_axis(g.nodes[mean_i], g)) continue;
    const int add_i = ix.sole_reader(g.nodes[mean_i].outputs[0]);
    if (add_i < 0 || g.nodes[add_i].op_type != "Add") continue;
    const auto eps = ix.scalar(other_input(g.nodes[add_i], g.nodes[mean_i].outputs[0]));
    if (!eps) continue;
    const int sqrt_i = ix.sole_reader(g.nodes[add_i].outputs[0]);
    if (sqrt_i < 0 || g.nodes[sqrt_i].op_type != "Sqrt") continue;
    const std::string& root = g.nodes[sqrt_i].outputs[0];
    // x / r: Div(x, r), or x * (1 / r) with 1 / r as Div(1, r) or Reciprocal(r).
    const int next_i = ix.sole_reader(root);
    if (next_i < 0) continue;
    const Node& next = g.nodes[next_i];
    std::vector<int> nodes = {(int)i, mean_i, add_i, sqrt_i, next_i};
    std::string normed;
    if (next.op_type == "Div" && next.inputs.size() == 2 && next.inputs[1] == root && next.inputs[0] == x) {
      normed = next.outputs[0];
    } else if ((next.op_type == "Div" && next.inputs.size() == 2 && next.inputs[1] == root &&
                ix.scalar(next.inputs[0]) == 1.0f) ||
               (next.op_type == "Reciprocal" && next.inputs.size() == 1)) {
      const int mul_i = ix.sole_reader(next.outputs[0]);
      if (mul_i < 0 || g.nodes[mul_i].op_type != "Mul" || other_input(g.nodes[mul_i], next.outputs[0]) != x) continue;
      nodes.push_back(mul_i);
      normed = g.nodes[mul_i].outputs[0];
    } else {
      continue;
    }
    const int scale_i = ix.sole_reader(normed);
    if (scale_i < 0 || g.nodes[scale_i].op_type != "Mul") continue;
    const std::string w = other_input(g.nodes[scale_i], normed);
    if (w.empty() || !g.initializers.count(w)) continue;
    const Tensor& tw = g.initializers.at(w);
    if (tw.rank() != 1 || tw.dtype() != DType::F32) continue;
    nodes.push_back(scale_i);
    bool taken = false;
    for (int k : nodes) taken |= dead.count(k) > 0;
    if (taken) continue;

    Node rms;
    rms.op_type = "SimplifiedLayerNormalization";
    rms.domain = "com.microsoft";
    rms.name = pow.name.empty() ? "fused_rms_norm_" + std::to_string(i) : pow.name + "/fused_rms_norm";
    rms.inputs = {x, w};
    rms.outputs = {g.nodes[scale_i].outputs[0]};
    rms.attributes = {{"axis", attr_int(-1)}, {"epsilon", attr_float(*eps)}};
    for (int k : nodes) dead.insert(k);
    added.push_back(std::move(rms));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
