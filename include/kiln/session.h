// kiln/session.h: load an ONNX graph once, run it many times.
//
//   kiln::Session s("model.onnx", {.threads = 4});
//   kiln::NamedTensors out = s.run({{"input_ids", ids}, {"attention_mask", mask}});
//   const kiln::Tensor& logits = out.at("logits");
//
// A session runs on the CPU unless SessionOptions::device names another device this build has a
// backend for. One session may be run from several threads at once; each run is bitwise the same as
// it would be alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/api.h"
#include "kiln/tensor.h"

namespace kiln {

struct SessionOptions {
  // Threads for this session's runs only (0 = one per available core). Other sessions in the same
  // process keep their own count.
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
  // Reading the model: the largest .onnx file Session(path) parses, in bytes, external data not
  // counted (0 = protobuf's 2 GB only); and how deep subgraphs may nest (0 = no limit), checked for
  // models given in memory too. Past either: BadModel, before anything runs.
  uint64_t max_model_bytes = kDefaultMaxModelBytes;
  int max_subgraph_depth = kDefaultMaxSubgraphDepth;
  // Where the graph runs: each node on this device when it has a kernel there, else on the CPU,
  // with copies where values cross (inputs are given and outputs returned in CPU memory). A device
  // this build has no backend for (cuda, when built without CUDA) is refused with Unsupported before
  // the model is read. (After the fields above, so that positional initialisation of them keeps its
  // meaning.)
  Device device = {};
  // False: the declared shapes of the graph's inputs are dropped when the session is made, so feeds
  // of any shape are taken (their element types are still checked) and input_info() gives no rank.
  // ONNX's backend test runner feeds its test data so (a few node tests' data disagree with their
  // models' declared shapes); `kiln conformance` runs them this way.
  bool check_input_shapes = true;
  // True: a decoder step's KV caches grow in place (docs/performance.md, "KV cache"). Where a
  // past_key_values input is only concatenated with the step's new keys or values along the sequence
  // axis and read by the fused attention (optimization level 2), the session keeps that cache
  // time-major: the input and its present output become [sequence, batch, heads, head_dim]
  // (TensorInfo::time_major says which), and feeding a present back as the next step's past appends
  // the new rows after the old ones in the same memory instead of copying the whole cache (a copy
  // happens only when the buffer is full, or the past is not the latest present made from it).
  // kiln's generation pipelines turn this on for decoder_with_past_model graphs.
  bool kv_cache_in_place = false;
  // Graph inputs given once, for every run: each becomes a constant of the graph before it is
  // optimized and is no longer an input of the session; inputs that nothing reads afterwards are
  // dropped too. An If on a fixed input keeps only the branch it takes, inlined into the graph and
  // optimized with it: kiln's generation pipelines open a merged decoder (decoder_model_merged.onnx)
  // once with use_cache_branch false and once true, so its with-past branch gets the fusions and the
  // in-place KV cache of a decoder_with_past_model. A name the graph does not take as an input, or a
  // tensor of another type or shape than the input declares, is refused with BadInput.
  NamedTensors fixed_inputs;

  static constexpr size_t kDefaultMaxTensorBytes = size_t(16) << 30;
  static constexpr uint64_t kDefaultMaxModelBytes = 2147483647;  // protobuf's own limit
  static constexpr int kDefaultMaxSubgraphDepth = 64;
};

// A graph input or output as the model declares it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::Undefined;
  // One entry per dimension: its size, or -1 when it is not fixed (then `dim_names` may name it,
  // e.g. "batch_size"). `has_rank` is false when the model does not declare a rank at all.
  std::vector<int64_t> shape;
  std::vector<std::string> dim_names;
  bool has_rank = true;
  // False for a sequence, optional or map value: kiln reads graphs with such inputs and outputs but
  // cannot run them (dtype is then Undefined and has_rank false).
  bool is_tensor = true;
  // A KV cache kept time-major (SessionOptions::kv_cache_in_place): `shape` is [sequence, batch,
  // heads, head_dim], where the model declares [batch, heads, sequence, head_dim].
  bool time_major = false;
  // An input the session added that feeds may leave out (`cache_rows`, SessionOptions::
  // kv_cache_in_place); left out, it is taken as empty.
  bool optional = false;
};

// kiln's graph IR and execution plan (src/graph, src/runtime); not part of the public API.
struct Model;
struct ValueInfo;
class ExecutionPlan;

class KILN_API Session {
 public:
  // Loads a .onnx file (with its external data). Throws BadModel for a malformed or unsupported
  // graph (naming every op kiln lacks), IoError when the file cannot be read, Unsupported for a
  // device this build cannot run on.
  explicit Session(const std::string& path, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::vector<TensorInfo> input_info() const;
  std::vector<TensorInfo> output_info() const;
  const SessionOptions& options() const { return options_; }

  // Runs with named feeds; returns the requested outputs (all graph outputs when empty).
  // Feeds are in CPU memory and so are the outputs, whatever the device. Throws BadInput naming the
  // input when a feed is missing, unknown, or of the wrong type or shape, and when a run passes the
  // options' limits.
  //
  // Thread safety: run() may be called from several threads at once on one session. Each run has its
  // own values; what the kernels share across runs (packed weights, oneDNN primitives made on first
  // use, the buffer cache) is made once under a lock and only read afterwards. Results do not depend
  // on what else runs: a run gives bitwise the same outputs as the same run alone. Each run uses
  // options().threads OpenMP threads of its calling thread's own pool, so N concurrent callers use up
  // to N x threads cores.
  NamedTensors run(const NamedTensors& feeds, const std::vector<std::string>& output_names = {}) const;
  // The same, writing the outputs into `outputs`: an entry already there under an output's name gets
  // the new tensor (its map node is reused), a missing one is added, and entries that are not
  // outputs of this run are removed. Called again with the same map, a run allocates nothing on the
  // heap once the first runs have filled kiln's caches (the plain run() above allocates the map it
  // returns: one node per output). On failure `outputs` is left as it was.
  void run(const NamedTensors& feeds, NamedTensors& outputs, const std::vector<std::string>& output_names = {}) const;

  // For kiln's own modules (the types are defined under src/, see src/runtime/session.h).
  explicit Session(Model model, SessionOptions options = {});
  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  const Model& model() const { return *model_; }
  const ExecutionPlan& plan() const { return *plan_; }

 private:
  void init();
  void validate(const NamedTensors& feeds) const;

  // Fills `outs` with the outputs of one run, in graph output order (`ins`: a list to reuse).
  void run_plan(const NamedTensors& feeds, std::vector<const Tensor*>& ins, std::vector<Tensor>& outs) const;

  SessionOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ExecutionPlan> plan_;
  struct RunLists;  // per-run input and output lists, reused across runs (src/runtime/session.cc)
  std::unique_ptr<RunLists> lists_;
};

}  // namespace kiln
