// The pipelines' public side is include/kiln/pipeline.h. Inside kiln every task derives from
// JsonPipeline, whose run() gives transformers' results as nlohmann::json (run_json() serialises
// them, the pipelines' tests read fields of them; the CLI and eval use the typed calls of
// kiln/pipeline.h); json_pipeline() opens one.
//
//   auto p = kiln::json_pipeline("text-classification", "model_dir", {.threads = 2});
//   nlohmann::json r = (*p)("I love this");          // {"label": "positive", "score": 0.98}
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln/pipeline.h"
#include "pipelines/generation/generation_config.h"
#include "pipelines/generation/search.h"

namespace kiln {

class JsonPipeline : public Pipeline {
 public:
  // One JSON result per input, in order.
  virtual std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) = 0;
  std::vector<std::string> run_json(const std::vector<PipelineInput>& inputs) override;

  nlohmann::json operator()(const PipelineInput& input) { return run({input}).at(0); }
  std::vector<nlohmann::json> operator()(const std::vector<std::string>& texts) {
    return run(std::vector<PipelineInput>(texts.begin(), texts.end()));
  }

 protected:
  using Pipeline::Pipeline;
};

// kiln::pipeline() with the JSON side in reach.
std::unique_ptr<JsonPipeline> json_pipeline(const std::string& task, const std::string& model_dir,
                                            const PipelineOptions& options = {});

}  // namespace kiln
