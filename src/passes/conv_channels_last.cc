// Keeps chains of 2-D convolutions in channels-last (NHWC) layout. oneDNN's fast convolutions read
// and write NHWC, so a Conv on ONNX's NCHW tensors pays a copy in and a copy out (about as much time
// as a depthwise or small pointwise Conv itself). This pass finds the regions made of float32 Convs
// (Conv, FusedConv with constant 4-D weights) and the element-wise ops between them (activations on
// a region value; Add / Mul of two region values, which broadcast the same way in either layout),
// runs them on NHWC tensors, and puts a layout change only where a value enters or leaves a region:
//   x -> kiln:Layout{to: nhwc} -> kiln:NhwcConv ... Add ... kiln:NhwcConv -> kiln:Layout{to: nchw} -> rest
// A residual Add of a Conv's output (no activation) and another region value is folded into the
// Conv as its sum input (added in oneDNN's epilogue). Every region value also gets a change back to
// NCHW under its old name; remove_dead_nodes drops those nothing reads. A session-time rewrite (level 2): kiln never saves these ops.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool is_conv(const Graph& g, const Node& n) {
  bool conv = n.op_type == "Conv" && canonical_domain(n.domain).empty();
  bool fused = n.op_type == "FusedConv" && canonical_domain(n.domain) == "com.microsoft";
  if ((!conv && !fused) || n.inputs.size() < 2 || n.inputs.size() > 3 || n.outputs.size() != 1) return false;
  auto w = g.initializers.find(n.inputs[1]);
  if (w == g.initializers.end() || w->second.dtype() != DType::F32 || w->second.rank() != 4) return false;
  if (n.inputs.size() == 3 && !n.inputs[2].empty() && !g.initializers.count(n.inputs[2])) return false;
  return true;
}

bool is_unary(const GraphIndex& ix, const Node& n) {
  if (!canonical_domain(n.domain).empty() || n.outputs.size() != 1 || n.inputs.empty()) return false;
  const std::string& op = n.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish" || op == "HardSigmoid" ||
      op == "LeakyRelu")
    return n.inputs.size() == 1;
  if (op == "Clip") {  // bounds must be constant scalars (they are not re-laid out)
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty() && !ix.scalar(n.inputs[i])) return false;
    return n.inputs.size() <= 3;
  }
  return false;
}

bool is_binary(const Node& n) {
  return canonical_domain(n.domain).empty() && (n.op_type == "Add" || n.op_type == "Mul") && n.inputs.size() == 2 &&
         n.outputs.size() == 1;
}

Node layout_node(const std::string& in, const std::string& out, const char* to) {
  Node n;
  n.op_type = "Layout";
  n.domain = "kiln";
  n.name = out + "_layout";
  n.inputs = {in};
  n.outputs = {out};
  n.attributes["to"] = attr_string(to);
  return n;
}

}  // namespace

int conv_channels_last(Graph& g) {
  GraphIndex ix(g);
  std::unordered_set<std::string> region_values;  // outputs of region nodes (NCHW names)
  std::vector<int> members;
  for (size_t i = 0; i < g.nodes.size(); ++i) {  // nodes are sorted: producers come first
    const Node& n = g.nodes[i];
    bool in = is_conv(g, n) || (is_unary(ix, n) && region_values.count(n.inputs[0])) ||
              (is_binary(n) && region_values.count(n.inputs[0]) && region_values.count(n.inputs[1]));
    if (!in) continue;
    members.push_back((int)i);
    region_values.insert(n.outputs[0]);
  }
  if (members.empty()) return 0;
  // A residual Add of a Conv without activation (read only by that Add) and another region value
  // becomes the Conv's Z input (FusedConv's sum, added in oneDNN's epilogue): conv -> (add, other).
  std::unordered_map<int, std::pair<int, std::string>> folded;
  std::unordered_set<int> folded_adds;
  std::unordered_set<int> member_set(members.begin(), members.end());
  for (int i : members) {
    const Node& add = g.nodes[i];
    if (add.op_type != "Add" || !is_binary(add) || add.inputs[0] == add.inputs[1]) continue;
    for (int j = 0; j < 2; ++j) {
      int p = ix.producer(add.inputs[j]);
      if (p < 0 || !member_set.count(p) || folded.count(p) || !is_conv(g, g.nodes[p])) continue;
      const Node& conv = g.nodes[p];
      if (conv.attributes.count("activation") || !ix.used_only_by(conv.outputs[0], 1)) continue;
      folded[p] = {i, add.inputs[1 - j]};
      folded_adds.insert(i);
      break;
    }
  }
  auto nhwc = [](const std::string& v) { return v + "__nhwc"; };
  std::unordered_set<int> dead(members.begin(), members.end());
  std::vector<Node> added;
  std::unordered_set<std::string> entered;
  int convs = 0;
  for (int i : members) {
    if (folded_adds.count(i)) continue;  // now the Conv's sum
    Node n = g.nodes[i];
    bool conv = is_conv(g, n);
    size_t data_inputs = conv || is_unary(ix, n) ? 1 : 2;
    for (size_t k = 0; k < data_inputs; ++k) {
      const std::string v = n.inputs[k];
      if (!region_values.count(v) && entered.insert(v).second) added.push_back(layout_node(v, nhwc(v), "nhwc"));
      n.inputs[k] = nhwc(v);
    }
    if (conv) {
      n.op_type = "NhwcConv";
      n.domain = "kiln";
      ++convs;
      auto f = folded.find(i);
      if (f != folded.end()) {
        const std::string& other = f->second.second;
        n.inputs.resize(3);  // an absent bias stays ""
        n.inputs.push_back(nhwc(other));
        n.outputs[0] = g.nodes[f->second.first].outputs[0];
      }
    }
    const std::string out = n.outputs[0];
    n.outputs[0] = nhwc(out);
    added.push_back(std::move(n));
    added.push_back(layout_node(nhwc(out), out, "nchw"));  // dropped by remove_dead_nodes when unread
  }
  replace_nodes(g, dead, std::move(added));
  return convs;
}

}  // namespace kiln
