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
size_t checked_tensor_bytes(DType dtype, const std::vector<int64_t>& shape, int64_t numel);

// True when the active run has a deadline and it has passed (cheap: no formatting).
bool deadline_passed();
// Throws BadInput when the active run is past its deadline; `where` names what was about to run
// ("" inside a subgraph: the node that runs the subgraph prefixes its own name).
void check_deadline(const std::string& where);

// "17179869184 bytes (16.0 GiB)"
std::string bytes_str(uint64_t bytes);

}  // namespace kiln
