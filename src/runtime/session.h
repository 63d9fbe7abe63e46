// Session: load a model once, run it many times.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_json.h"
#include "graph/graph.h"

namespace kiln {

class ExecutionPlan;

struct SessionOptions {
  int threads = 0;  // 0 = one per core
  // 0: run the graph as it is; 1: constant folding and dead-node removal; 2: also fusions.
  int optimization_level = 2;
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

  // Runs with named feeds; returns the requested outputs (all graph outputs when empty).
  // Throws BadInput naming the input when a feed is missing, unknown, or of the wrong type or shape.
  NamedTensors run(const NamedTensors& feeds, const std::vector<std::string>& output_names = {}) const;

 private:
  void init();
  void validate(const NamedTensors& feeds) const;

  SessionOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ExecutionPlan> plan_;
};

}  // namespace kiln
