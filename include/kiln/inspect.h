// kiln/inspect.h: what kiln knows about a model and about itself without running anything — a
// model file's interface, opsets, ops and what kiln lacks for it; every kernel kiln has; a
// session's plan step by step. `kiln inspect` and `kiln ops` print these.
//
//   kiln::ModelSummary m = kiln::inspect_model("model.onnx");
//   for (const std::string& op : m.unsupported_ops) std::cout << "missing " << op << "\n";
//   for (const kiln::KernelEntry& k : kiln::registered_kernels()) std::cout << k.domain << " " << k.op << "\n";
//   kiln::PlanInfo p = kiln::describe_plan(session);   // each step's device, copies included
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/api.h"
#include "kiln/session.h"
#include "kiln/tensor.h"

namespace kiln {

// One kernel of the registry.
struct KernelEntry {
  std::string device;        // "cpu" (device type name)
  std::string domain;        // "ai.onnx", "com.microsoft", "kiln"
  std::string op;            // op type
  int64_t since = 1;         // opset range, inclusive
  int64_t until = 1;         // kMaxOpset (1000) when open-ended: open_ended() is then true
  std::vector<DType> types;  // the types of input 0 it accepts (empty = any)
  int priority = 0;          // among kernels matching a node the highest wins
  std::string source;        // kiln's source file that defines it, relative to src/
  bool open_ended() const { return until >= 1000; }
};

// Every kernel of every device this build has, sorted by domain, op, since, then priority (highest
// first).
KILN_API std::vector<KernelEntry> registered_kernels();

// What a model file holds, read without making a session (so a model kiln cannot run is described
// too).
struct ModelSummary {
  int64_t ir_version = 0;
  std::string producer;                   // producer name and version
  std::map<std::string, int64_t> opsets;  // domain ("ai.onnx" for the default) -> version
  std::vector<TensorInfo> inputs, outputs;
  std::map<std::string, int> ops;  // "Op" or "domain:Op" -> nodes, subgraphs included
  size_t nodes = 0;                // nodes of the main graph
  int64_t parameters = 0;          // elements of the initializers
  int64_t parameter_bytes = 0;
  // Ops no CPU kernel implements, as "domain:Op (opset N)"; empty when kiln can run every node.
  std::vector<std::string> unsupported_ops;
};

// Reads `path` under the limits of `limits` (max_model_bytes, max_subgraph_depth; nothing else is
// used). Throws BadModel for a file that is not ONNX, IoError when it cannot be read.
KILN_API ModelSummary inspect_model(const std::string& path, const SessionOptions& limits = {});

// A session's plan, step by step.
struct PlanStepInfo {
  std::string op;    // "Add", "com.microsoft:FusedMatMul"; "kiln:Copy" for a copy between devices
  std::string name;  // the node's name ("copy x to cuda:0" for a copy)
  Device device;     // where it runs (a copy: its destination)
  std::vector<std::string> inputs, outputs;  // value names; a copy's output is "name@device"
  bool is_copy() const { return op == "kiln:Copy"; }
};

struct PlanInfo {
  Device device;                                 // the session's device
  std::vector<PlanStepInfo> steps;               // in running order
  std::vector<std::string> constants_on_device;  // initializers copied to the device once, when planned
  size_t copies() const {
    size_t n = 0;
    for (const auto& s : steps) n += s.is_copy();
    return n;
  }
};

// The plan `session` runs (after its passes): each node's device and the copies between devices.
KILN_API PlanInfo describe_plan(const Session& session);

}  // namespace kiln
