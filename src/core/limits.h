// Per-run resource limits: the largest tensor a run may allocate and the time it may take. A
// Session installs its limits on the calling thread for the length of one run (RunLimitsScope);
// Tensor's constructor and the plan's step loop read them, so every allocation and every node
// boundary (each Loop/Scan iteration included) is checked in one place each.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace kiln {

struct RunLimits {
  size_t max_tensor_bytes = 0;  // 0 = no limit
  int64_t timeout_ms = 0;       // 0 = no deadline
  std::chrono::steady_clock::time_point deadline{};
};

// Limits on reading a model file (load_model, Session(path)): its own size, checked before any
// byte is parsed (external data files do not count; they are mapped, not parsed), and how deep
// subgraphs (If/Loop/Scan bodies) may nest. Each refusal is a BadModel naming the limit's option.
struct LoadLimits {
  // The largest .onnx file read, in bytes (0 = no limit below protobuf's own 2 GB).
  uint64_t max_model_bytes = kDefaultMaxModelBytes;
  // Subgraph nesting: 1 = an If branch in the main graph, 2 = a Loop body inside that branch...
  int max_subgraph_depth = kDefaultMaxSubgraphDepth;

  static constexpr uint64_t kDefaultMaxModelBytes = 2147483647;  // protobuf's own limit
  static constexpr int kDefaultMaxSubgraphDepth = 64;
};

// Throws BadModel when `depth` (of the graph `graph_name`) is past limits.max_subgraph_depth.
void check_subgraph_depth(int depth, const std::string& graph_name, const LoadLimits& limits);
// Throws BadModel when a model file of `bytes` (at `what`) is over limits.max_model_bytes.
void check_model_bytes(uint64_t bytes, const std::string& what, const LoadLimits& limits);

// Installs `limits` on this thread until destroyed (the previous ones come back after).
class RunLimitsScope {
 public:
  explicit RunLimitsScope(const RunLimits* limits);
  ~RunLimitsScope();
  RunLimitsScope(const RunLimitsScope&) = delete;
  RunLimitsScope& operator=(const RunLimitsScope&) = delete;

 private:
  const RunLimits* previous_;
};

// The limits of the run on this thread, or null outside a run.
const RunLimits* active_run_limits();

// numel elements of `dtype` in bytes; throws BadModel when that overflows int64 and BadInput when
// it exceeds the active run's max_tensor_bytes.
size_t checked_tensor_bytes(DType dtype, const Shape& shape, int64_t numel);

// True when the active run has a deadline and it has passed (cheap: no formatting).
bool deadline_passed();
// Throws BadInput when the active run is past its deadline; `where` names what was about to run
// ("" inside a subgraph: the node that runs the subgraph prefixes its own name).
void check_deadline(const std::string& where);

// "17179869184 bytes (16.0 GiB)"
std::string bytes_str(uint64_t bytes);

}  // namespace kiln
