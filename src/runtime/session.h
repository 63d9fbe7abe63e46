// Session: load a model once, run it many times.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/tensor_json.h"
#include "graph/graph.h"

namespace kiln {

class ExecutionPlan;

struct SessionOptions {
  // Threads for this session's runs only (0 = one per available core). Other sessions in the same
  // process keep their own count; see core/threads.h.
  int threads = 0;
  // 0: run the graph as it is; 1: constant folding and dead-node removal; 2: also fusions.
  int optimization_level = 2;
  // The largest tensor one run may allocate, in bytes (0 = no limit). A node asking for more fails
  // with BadInput naming the node, the shape and the size, instead of the process being killed for
  // memory. 16 GiB is above any single activation of the models kiln exports (and fits in the
  // memory of the machines they run on); raise it for bigger ones.
  size_t max_tensor_bytes = kDefaultMaxTensorBytes;
  // Wall-clock limit of one run in milliseconds (0 = none). Checked before every node and every
  // subgraph run (each If branch and Loop/Scan iteration); a run past it fails with BadInput.
  // A single long kernel is not interrupted.
  int64_t run_timeout_ms = 0;
  // Reading the model (core/limits.h LoadLimits): the largest .onnx file Session(path) parses, in
  // bytes, external data not counted (0 = protobuf's 2 GB only); and how deep subgraphs may nest
  // (0 = no limit), checked for models given in memory too. Past either: BadModel, before running.
  uint64_t max_model_bytes = LoadLimits::kDefaultMaxModelBytes;
  int max_subgraph_depth = LoadLimits::kDefaultMaxSubgraphDepth;

  LoadLimits load_limits() const { return {max_model_bytes, max_subgraph_depth}; }

  static constexpr size_t kDefaultMaxTensorBytes = size_t(16) << 30;
};

class Session {
 public:
  explicit Session(const std::string& path, SessionOptions options = {});
  explicit Session(Model model, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  const Model& model() const { return *model_; }
  const SessionOptions& options() const { return options_; }

  // Runs with named feeds; returns the requested outputs (all graph outputs when empty).
  // Throws BadInput naming the input when a feed is missing, unknown, or of the wrong type or shape.
  //
  // Thread safety: run() may be called from several threads at once on one session. Each run has its
  // own values (a Frame per run and per subgraph call); what the kernels share across runs (packed
  // weights, oneDNN primitives made on first use, the buffer cache) is made once under a lock and
  // only read afterwards. Results do not depend on what else runs: a run gives bitwise the same
  // outputs as the same run alone. Each run uses options().threads OpenMP threads of its calling
  // thread's own pool, so N concurrent callers use up to N x threads cores.
  NamedTensors run(const NamedTensors& feeds, const std::vector<std::string>& output_names = {}) const;

 private:
  void init();
  void validate(const NamedTensors& feeds) const;

  SessionOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ExecutionPlan> plan_;
};

}  // namespace kiln
