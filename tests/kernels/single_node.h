// Builds a one-node model in memory and runs it through a Session: for literal kernel tests.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/session.h"

namespace kiln::test {

inline Attribute attr_int(int64_t v) { Attribute a; a.kind = Attribute::Kind::Int; a.i = v; return a; }
inline Attribute attr_float(float v) { Attribute a; a.kind = Attribute::Kind::Float; a.f = v; return a; }
inline Attribute attr_ints(std::vector<int64_t> v) { Attribute a; a.kind = Attribute::Kind::Ints; a.ints = std::move(v); return a; }

struct SingleNode {
  std::string op;
  std::string domain;  // "" = ai.onnx
  std::map<std::string, Attribute> attrs;
  int64_t opset = 17;
  int num_outputs = 1;
};

// Inputs are given in order; an empty name-less Tensor() marks an absent optional input. Inputs
// listed in `constant` (by position) become initializers, the others graph inputs.
inline std::vector<Tensor> run_single_node(const SingleNode& spec, const std::vector<Tensor>& inputs,
                                           const std::vector<bool>& constant = {}, int threads = 1) {
  Model m;
  m.set_opset("", spec.domain.empty() ? spec.opset : 17);
  if (!spec.domain.empty()) m.set_opset(spec.domain, spec.opset);
  Node n;
  n.op_type = spec.op;
  n.domain = spec.domain;
  n.name = "node";
  n.attributes = spec.attrs;
  NamedTensors feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      n.inputs.push_back("");
      continue;
    }
    std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    if (i < constant.size() && constant[i]) {
      m.graph.initializers[name] = inputs[i];
    } else {
      ValueInfo v;
      v.name = name;
      v.dtype = inputs[i].dtype();
      m.graph.inputs.push_back(v);
      feeds[name] = inputs[i];
    }
  }
  for (int i = 0; i < spec.num_outputs; ++i) {
    std::string name = "out" + std::to_string(i);
    n.outputs.push_back(name);
    ValueInfo v;
    v.name = name;
    m.graph.outputs.push_back(v);
  }
  m.graph.nodes.push_back(n);
  SessionOptions opt;
  opt.threads = threads;
  opt.optimization_level = 0;
  Session s(std::move(m), opt);
  NamedTensors got = s.run(feeds);
  std::vector<Tensor> out;
  for (int i = 0; i < spec.num_outputs; ++i) out.push_back(got.at("out" + std::to_string(i)));
  return out;
}

}  // namespace kiln::test
