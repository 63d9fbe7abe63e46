// kiln inspect MODEL.onnx [--json]: interface, opsets, op histogram, parameters, missing kernels.
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"

namespace {

void count_ops(const kiln::Graph& g, std::map<std::string, int>& hist) {
  for (const auto& n : g.nodes) {
    hist[(n.domain.empty() ? "" : n.domain + ":") + n.op_type]++;
    for (const auto& [_, a] : n.attributes) {
      if (a.g) count_ops(*a.g, hist);
      for (const auto& sg : a.graphs) count_ops(*sg, hist);
    }
  }
}

nlohmann::json value_json(const kiln::ValueInfo& v) {
  nlohmann::json dims = nlohmann::json::array();
  if (v.shape)
    for (const auto& d : *v.shape) {
      if (d.value) dims.push_back(*d.value);
      else dims.push_back(d.symbol.empty() ? "?" : d.symbol);
    }
  return {{"name", v.name}, {"dtype", std::string(kiln::dtype_name(v.dtype))}, {"dims", v.shape ? dims : nullptr}};
}

std::string dims_text(const nlohmann::json& v) {
  if (v["dims"].is_null()) return "(rank unknown)";
  std::string s = "[";
  bool first = true;
  for (const auto& d : v["dims"]) {
    if (!first) s += ", ";
    first = false;
    s += d.is_string() ? d.get<std::string>() : std::to_string(d.get<int64_t>());
  }
  return s + "]";
}

}  // namespace

KILN_COMMAND(inspect_command, "inspect", "Show a model's inputs, outputs, opsets, ops and what kiln cannot run") {
  struct Opts {
    std::string model;
    bool json = false;
    kiln::LoadLimits load;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "ONNX model file")->required();
  sub.add_flag("--json", o->json, "machine-readable output");
  sub.add_option("--max-model-bytes", o->load.max_model_bytes, "largest .onnx file read, external data not counted");
  sub.add_option("--max-subgraph-depth", o->load.max_subgraph_depth, "deepest nesting of subgraphs (0 = no limit)");
  return [o] {
    kiln::Model m = kiln::load_model(o->model, o->load);
    nlohmann::json j;
    j["file"] = o->model;
    j["ir_version"] = m.ir_version;
    j["producer"] = m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version);
    nlohmann::json opsets = nlohmann::json::object();
    for (const auto& op : m.opsets) opsets[op.domain.empty() ? "ai.onnx" : op.domain] = op.version;
    j["opsets"] = opsets;
    j["inputs"] = nlohmann::json::array();
    for (const auto& v : m.graph.inputs) j["inputs"].push_back(value_json(v));
    j["outputs"] = nlohmann::json::array();
    for (const auto& v : m.graph.outputs) j["outputs"].push_back(value_json(v));
    std::map<std::string, int> hist;
    count_ops(m.graph, hist);
    j["ops"] = hist;
    j["nodes"] = m.graph.nodes.size();
    j["parameters"] = m.graph.parameter_count();
    j["parameter_bytes"] = m.graph.parameter_bytes();
    j["unsupported_ops"] = kiln::missing_kernels(m);
    if (o->json) {
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("%s: ONNX IR %lld, producer %s\n", o->model.c_str(), (long long)m.ir_version,
                j["producer"].get<std::string>().c_str());
    std::printf("opsets:");
    for (auto& [k, v] : opsets.items()) std::printf(" %s %lld", k.c_str(), (long long)v.get<int64_t>());
    std::printf("\ninputs:\n");
    for (const auto& v : j["inputs"])
      std::printf("  %-32s %-8s %s\n", v["name"].get<std::string>().c_str(), v["dtype"].get<std::string>().c_str(),
                  dims_text(v).c_str());
    std::printf("outputs:\n");
    for (const auto& v : j["outputs"])
      std::printf("  %-32s %-8s %s\n", v["name"].get<std::string>().c_str(), v["dtype"].get<std::string>().c_str(),
                  dims_text(v).c_str());
    std::printf("parameters: %lld (%.1f MB)\n", (long long)m.graph.parameter_count(),
                m.graph.parameter_bytes() / 1e6);
    std::printf("nodes: %zu\nops:\n", m.graph.nodes.size());
    for (const auto& [op, n] : hist) std::printf("  %-28s %d\n", op.c_str(), n);
    const auto& missing = j["unsupported_ops"];
    if (missing.empty()) std::printf("kiln can run every op in this model\n");
    else {
      std::printf("kiln cannot run %zu op(s):\n", missing.size());
      for (const auto& s : missing) std::printf("  %s\n", s.get<std::string>().c_str());
    }
    return 0;
  };
}
