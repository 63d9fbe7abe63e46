// A Conv whose only reader is an activation takes it into its epilogue (oneDNN applies it while the
// output block is still in cache), as ONNX Runtime's com.microsoft FusedConv:
//   Conv(x, W[, B]) -> Relu | LeakyRelu | Clip(constant min, max) | Sigmoid | Tanh | HardSigmoid | HardSwish
//     => com.microsoft:FusedConv(x, W[, B]) {activation, activation_params}
// Only float32 convolutions with constant weights (the kernel's fast path); a session-time rewrite
// (level 2), but FusedConv is also what ONNX Runtime writes into its optimized models.
#include <limits>

#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// The activation node as FusedConv's (name, params), or false when it is not one that can be fused.
bool activation_of(const GraphIndex& ix, const Node& act, const std::string& conv_out, std::string& name,
                   std::vector<float>& params) {
  if (!canonical_domain(act.domain).empty() || act.inputs.empty() || act.inputs[0] != conv_out) return false;
  const std::string& op = act.op_type;
  name = op;
  params.clear();
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return act.inputs.size() == 1;
  if (op == "LeakyRelu") {
    params = {act.attr_float("alpha", 0.01f)};
    return act.inputs.size() == 1;
  }
  if (op == "HardSigmoid") {
    params = {act.attr_float("alpha", 0.2f), act.attr_float("beta", 0.5f)};
    return act.inputs.size() == 1;
  }
  if (op == "Clip") {
    float lo = act.attr_float("min", std::numeric_limits<float>::lowest());
    float hi = act.attr_float("max", std::numeric_limits<float>::max());
    // Opset 11 and later: min and max are optional inputs, which must be constant scalars here.
    for (size_t i = 1; i < act.inputs.size() && i < 3; ++i) {
      if (act.inputs[i].empty()) continue;
      auto v = ix.scalar(act.inputs[i]);
      if (!v) return false;
      (i == 1 ? lo : hi) = *v;
    }
    if (act.inputs.size() > 3 || lo > hi) return false;
    params = {lo, hi};
    return true;
  }
  return false;
}

}  // namespace

int fuse_conv_activation(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& conv = g.nodes[i];
    if (conv.op_type != "Conv" || !canonical_domain(conv.domain).empty() || conv.inputs.size() < 2 ||
        conv.outputs.size() != 1)
      continue;
    auto w = g.initializers.find(conv.inputs[1]);
    if (w == g.initializers.end() || w->second.dtype() != DType::F32) continue;
    if (!ix.used_only_by(conv.outputs[0], 1)) continue;
    int a = ix.consumers(conv.outputs[0])[0];
    if (a < 0 || dead.count(a)) continue;
    const Node& act = g.nodes[a];
    std::string name;
    std::vector<float> params;
    if (act.outputs.size() != 1 || !activation_of(ix, act, conv.outputs[0], name, params)) continue;
    Node fused = conv;
    fused.op_type = "FusedConv";
    fused.domain = "com.microsoft";
    fused.name = (conv.name.empty() ? "fused_conv_" + std::to_string(i) : conv.name) + "_" + name;
    fused.outputs = act.outputs;
    fused.attributes["activation"] = attr_string(name);
    if (!params.empty()) fused.attributes["activation_params"] = attr_floats(params);
    dead.insert((int)i);
    dead.insert(a);
    added.push_back(std::move(fused));
  }
  return replace_nodes(g, dead, std::move(added));
}

}  // namespace kiln
