// What a model folder's config.json and generation_config.json say, read the way transformers reads
// them: labels and problem type for classifiers, special ids and generation defaults for generators
// (generation_config.json wins over config.json), per-task overrides from task_specific_params.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/generation/generation_config.h"

namespace kiln::pipelines {

struct ModelConfig {
  nlohmann::json raw;  // config.json as it is
  std::string model_type;
  std::vector<std::string> architectures;
  bool is_encoder_decoder = false;
  std::map<int64_t, std::string> id2label;
  std::string problem_type;  // "", single_label_classification, multi_label_classification, regression
  int64_t num_labels = 0;
  int64_t vocab_size = 0;
  int64_t decoder_heads = 0, head_dim = 0;  // attention sizes of the decoder (for empty past tensors)
  std::string prefix;                       // text put before every input of generation tasks
  gen::GenerationConfig generation;

  std::string label(int64_t id) const;  // id2label, or LABEL_<id>
  // Applies task_specific_params[task] (summarization, translation_en_to_de ...) when present.
  void apply_task_params(const std::string& task);
};

// Reads DIR/config.json (required) and DIR/generation_config.json (optional).
ModelConfig read_model_config(const std::string& dir);

}  // namespace kiln::pipelines
