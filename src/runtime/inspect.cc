// kiln/inspect.h: a model file's summary and the registry's kernels, for `kiln inspect` / `kiln ops`
// and library users (describe_plan is in session.cc).
#include "kiln/inspect.h"

#include <algorithm>
#include <tuple>

#include "graph/onnx_io.h"
#include "runtime/registry.h"
#include "runtime/session.h"

namespace kiln {

namespace {

void count_ops(const Graph& g, std::map<std::string, int>& hist) {
  for (const auto& n : g.nodes) {
    hist[(n.domain.empty() ? "" : n.domain + ":") + n.op_type]++;
    for (const auto& [_, a] : n.attributes) {
      if (a.g) count_ops(*a.g, hist);
      for (const auto& sg : a.graphs) count_ops(*sg, hist);
    }
  }
}

}  // namespace

std::vector<KernelEntry> registered_kernels() {
  std::vector<KernelEntry> out;
  for (const KernelDef& d : KernelRegistry::global().all()) {
    KernelEntry k;
    k.device = std::string(device_type_name(d.device));
    k.domain = d.domain.empty() ? "ai.onnx" : d.domain;
    k.op = d.op_type;
    k.since = d.since;
    k.until = d.until;
    k.types = d.input0_types;
    k.priority = d.priority;
    k.source = d.source;
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const KernelEntry& a, const KernelEntry& b) {
    return std::make_tuple(a.domain, a.op, a.since, -a.priority, a.device) <
           std::make_tuple(b.domain, b.op, b.since, -b.priority, b.device);
  });
  return out;
}

ModelSummary inspect_model(const std::string& path, const SessionOptions& limits) {
  Model m = load_model(path, load_limits(limits));
  ModelSummary s;
  s.ir_version = m.ir_version;
  s.producer = m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version);
  for (const auto& op : m.opsets) s.opsets[op.domain.empty() ? "ai.onnx" : op.domain] = op.version;
  s.inputs = tensor_infos(m.graph.inputs);
  s.outputs = tensor_infos(m.graph.outputs);
  count_ops(m.graph, s.ops);
  s.nodes = m.graph.nodes.size();
  s.parameters = m.graph.parameter_count();
  s.parameter_bytes = m.graph.parameter_bytes();
  s.unsupported_ops = missing_kernels(m);
  return s;
}

}  // namespace kiln
