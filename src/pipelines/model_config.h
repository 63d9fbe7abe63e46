// What a model folder's config.json and generation_config.json say, read the way transformers reads
// them: labels and problem type for classifiers, special ids and generation defaults for generators
// (generation_config.json wins over config.json), per-task overrides from task_specific_params.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln/model_folder.h"
#include "pipelines/generation/generation_config.h"

namespace kiln::pipelines {

struct ModelConfig {
  nlohmann::json raw;  // config.json as it is
  std::string model_type;
  std::vector<std::string> architectures;
  bool is_encoder_decoder = false;
  std::vector<std::string> labels;  // by id (ModelFolder::labels: id2label, LABEL_<id> for gaps)
  std::string problem_type;         // "", single_label_classification, multi_label_classification, regression
  int64_t vocab_size = 0;
  int64_t decoder_heads = 0, head_dim = 0;  // attention sizes of the decoder (for empty past tensors)
  std::string prefix;                       // text put before every input of generation tasks
  generation::GenerationConfig generation;

  int64_t num_labels() const { return (int64_t)labels.size(); }
  std::string label(int64_t id) const;  // labels[id], or LABEL_<id>
  // Applies task_specific_params[task] (summarization, translation_en_to_de ...) when present.
  void apply_task_params(const std::string& task);
};

// Reads the folder's config.json (required: IoError without it) and generation_config.json
// (optional); the fields every reader shares come from ModelFolder.
ModelConfig read_model_config(const ModelFolder& folder);

}  // namespace kiln::pipelines
