// kiln inspect MODEL.onnx [--json] [--plan [--device D] [--optimization-level N]]: interface, opsets,
// op histogram, parameters, missing kernels; with --plan, the session's steps: each node's device
// and the copies between devices.
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "kiln/inspect.h"
#include "kiln/session.h"

namespace {

nlohmann::json value_json(const kiln::TensorInfo& v) {
  nlohmann::json dims = nlohmann::json::array();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (v.shape[i] >= 0) dims.push_back(v.shape[i]);
    else dims.push_back(i < v.dim_names.size() && !v.dim_names[i].empty() ? v.dim_names[i] : "?");
  }
  return {{"name", v.name}, {"dtype", std::string(kiln::dtype_name(v.dtype))}, {"dims", v.has_rank ? dims : nullptr}};
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

nlohmann::json plan_json(const kiln::PlanInfo& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& st : plan.steps)
    steps.push_back({{"op", st.op},
                     {"name", st.name},
                     {"device", kiln::device_name(st.device)},
                     {"inputs", st.inputs},
                     {"outputs", st.outputs}});
  return {{"device", kiln::device_name(plan.device)},
          {"copies", plan.copies()},
          {"constants_on_device", plan.constants_on_device},
          {"steps", steps}};
}

void print_plan(const nlohmann::json& plan) {
  std::printf("plan on %s: %zu steps, %zu copies between devices\n", plan["device"].get<std::string>().c_str(),
              plan["steps"].size(), plan["copies"].get<size_t>());
  size_t i = 0;
  for (const auto& st : plan["steps"]) {
    auto list = [](const nlohmann::json& names) {
      std::string s;
      for (const auto& n : names) s += (s.empty() ? "" : ", ") + n.get<std::string>();
      return s;
    };
    std::printf("  %4zu %-8s %-28s %s -> %s\n", i++, st["device"].get<std::string>().c_str(),
                st["op"].get<std::string>().c_str(), list(st["inputs"]).c_str(), list(st["outputs"]).c_str());
  }
  for (const auto& c : plan["constants_on_device"])
    std::printf("  initializer %s copied to %s when planned\n", c.get<std::string>().c_str(),
                plan["device"].get<std::string>().c_str());
}

}  // namespace

KILN_COMMAND(inspect_command, "inspect", "Show a model's inputs, outputs, opsets, ops and what kiln cannot run") {
  struct Opts {
    std::string model, device = "cpu";
    bool json = false, plan = false;
    int opt_level = 2;
    kiln::SessionOptions load;  // its limits on reading the file
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "ONNX model file")->required();
  sub.add_flag("--json", o->json, "machine-readable output");
  sub.add_flag("--plan", o->plan, "also the execution plan: each step's device, copies between devices");
  sub.add_option("--device", o->device, "--plan: the session's device (cpu, cuda, cuda:N)");
  sub.add_option("--optimization-level", o->opt_level, "--plan: 0 none, 1 constant folding, 2 fusions");
  sub.add_option("--max-model-bytes", o->load.max_model_bytes, "largest .onnx file read, external data not counted");
  sub.add_option("--max-subgraph-depth", o->load.max_subgraph_depth, "deepest nesting of subgraphs (0 = no limit)");
  return [o] {
    kiln::ModelSummary m = kiln::inspect_model(o->model, o->load);
    nlohmann::json j;
    j["file"] = o->model;
    j["ir_version"] = m.ir_version;
    j["producer"] = m.producer;
    nlohmann::json opsets = nlohmann::json::object();
    for (const auto& [domain, version] : m.opsets) opsets[domain] = version;
    j["opsets"] = opsets;
    j["inputs"] = nlohmann::json::array();
    for (const auto& v : m.inputs) j["inputs"].push_back(value_json(v));
    j["outputs"] = nlohmann::json::array();
    for (const auto& v : m.outputs) j["outputs"].push_back(value_json(v));
    j["ops"] = m.ops;
    j["nodes"] = m.nodes;
    j["parameters"] = m.parameters;
    j["parameter_bytes"] = m.parameter_bytes;
    j["unsupported_ops"] = m.unsupported_ops;
    if (o->plan) {
      kiln::SessionOptions so = o->load;
      so.device = kiln::parse_device(o->device);
      so.optimization_level = o->opt_level;
      j["plan"] = plan_json(kiln::describe_plan(kiln::Session(o->model, so)));
    }
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
    std::printf("parameters: %lld (%.1f MB)\n", (long long)m.parameters, m.parameter_bytes / 1e6);
    std::printf("nodes: %zu\nops:\n", m.nodes);
    for (const auto& [op, n] : m.ops) std::printf("  %-28s %d\n", op.c_str(), n);
    const auto& missing = j["unsupported_ops"];
    if (missing.empty()) std::printf("kiln can run every op in this model\n");
    else {
      std::printf("kiln cannot run %zu op(s):\n", missing.size());
      for (const auto& s : missing) std::printf("  %s\n", s.get<std::string>().c_str());
    }
    if (o->plan) print_plan(j["plan"]);
    return 0;
  };
}
