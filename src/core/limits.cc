#include "core/limits.h"

#include <limits>

#include "core/error.h"
#include "core/tensor.h"

namespace kiln {

static thread_local const RunLimits* t_limits = nullptr;

RunLimitsScope::RunLimitsScope(const RunLimits* limits) : previous_(t_limits) { t_limits = limits; }
RunLimitsScope::~RunLimitsScope() { t_limits = previous_; }

const RunLimits* active_run_limits() { return t_limits; }

std::string bytes_str(uint64_t bytes) {
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  double v = (double)bytes;
  int u = -1;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{} bytes ({:.1f} {})", bytes, v, units[u]);
}

size_t checked_tensor_bytes(DType dtype, const Shape& shape, int64_t numel) {
  int64_t elem = (int64_t)dtype_size(dtype);
  int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, elem, &bytes))
    throw BadModel(fmt::format("a tensor of {} {} needs more than {} bytes, which does not fit in 64 bits",
                               dtype_name(dtype), shape_str(shape), std::numeric_limits<int64_t>::max()));
  const RunLimits* l = t_limits;
  if (l && l->max_tensor_bytes && (uint64_t)bytes > l->max_tensor_bytes)
    throw BadInput(fmt::format("a tensor of {} {} ({} elements) needs {}, over the limit of {}; raise "
                               "max_tensor_bytes (--max-tensor-bytes) if that is meant",
                               dtype_name(dtype), shape_str(shape), numel, bytes_str((uint64_t)bytes),
                               bytes_str(l->max_tensor_bytes)));
  return (size_t)bytes;
}

void check_subgraph_depth(int depth, const std::string& graph_name, const LoadLimits& limits) {
  if (limits.max_subgraph_depth <= 0 || depth <= limits.max_subgraph_depth) return;
  throw BadModel(fmt::format("subgraph '{}' is nested {} levels deep (If/Loop/Scan bodies inside each other), over the "
                             "limit of {}; raise max_subgraph_depth (--max-subgraph-depth) if that is meant",
                             graph_name, depth, limits.max_subgraph_depth));
}

void check_model_bytes(uint64_t bytes, const std::string& what, const LoadLimits& limits) {
  if (!limits.max_model_bytes || bytes <= limits.max_model_bytes) return;
  throw BadModel(fmt::format("{} is {}, over the limit of {} for a model file; raise max_model_bytes "
                             "(--max-model-bytes) if that is meant, or keep the weights as external data",
                             what, bytes_str(bytes), bytes_str(limits.max_model_bytes)));
}

bool deadline_passed() {
  const RunLimits* l = t_limits;
  return l && l->timeout_ms > 0 && std::chrono::steady_clock::now() >= l->deadline;
}

void check_deadline(const std::string& where) {
  const RunLimits* l = t_limits;
  if (!l || !l->timeout_ms) return;
  if (std::chrono::steady_clock::now() < l->deadline) return;
  throw BadInput(fmt::format("the run took longer than its limit of {} ms and was stopped{}{}; raise "
                             "run_timeout_ms (--timeout-ms) if that is meant",
                             l->timeout_ms, where.empty() ? "" : " before ", where));
}

}  // namespace kiln
