// Session and SessionOptions are public (include/kiln/session.h). kiln's own code includes them from
// here, with the graph IR the internal constructor and inputs()/outputs() speak.
#pragma once
#include "core/tensor_json.h"
#include "graph/graph.h"
#include "kiln/session.h"

namespace kiln {

// The ops of `model` (subgraphs included) that no CPU kernel implements, as "domain:Op (opset N)",
// without making a session (kiln inspect, the conformance runner).
std::vector<std::string> missing_kernels(const Model& model);

}  // namespace kiln
