// Session and SessionOptions are public (include/kiln/session.h). kiln's own code includes them from
// here, with the graph IR the internal constructor and inputs()/outputs() speak.
#pragma once
#include "core/limits.h"
#include "core/tensor_json.h"
#include "graph/graph.h"
#include "kiln/session.h"
#include "runtime/plan_info.h"

namespace kiln {

// The ops of `model` (subgraphs included) that no CPU kernel implements, as "domain:Op (opset N)",
// without making a session (kiln inspect, the conformance runner).
std::vector<std::string> missing_kernels(const Model& model);

// Graph inputs/outputs as the public API describes them (Session::input_info, inspect_model).
std::vector<TensorInfo> tensor_infos(const std::vector<ValueInfo>& values);

// The options' limits on reading a model file, as graph/onnx_io.h takes them.
inline LoadLimits load_limits(const SessionOptions& o) { return {o.max_model_bytes, o.max_subgraph_depth}; }

// Reads a model file as Session(path, o) would, for callers that look at the graph first or make
// several sessions from one read (Session(Model, o); e.g. a merged decoder opened per branch).
Model read_model(const std::string& path, const SessionOptions& o);

}  // namespace kiln
