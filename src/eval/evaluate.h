// Runs a task pipeline over examples and scores its answers: `kiln eval` and `kiln report`.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "eval/metrics.h"
#include "kiln/pipeline.h"

namespace kiln::eval {

enum class TaskKind { Classification, Text2Text, TextGeneration };

// The kind of a pipeline task name; throws Unsupported for tasks kiln cannot score.
TaskKind task_kind(const std::string& task);

struct EvalSettings {
  std::string task;
  std::string metric;  // "" = the task's default (accuracy, exact_match)
  std::string data_file, expected_column;  // for messages
  // Pipeline options: by default eval truncates inputs to the model's length limit (see
  // default_max_length).
  PipelineOptions pipeline;
};

struct EvalResult {
  std::string task, metric;
  double value = 0;                        // the chosen metric
  std::map<std::string, double> metrics;   // every metric the task has
  size_t samples = 0;
  double seconds = 0;                      // pipeline runs only (loading excluded)
  double load_seconds = 0;
  std::optional<Confusion> confusion;      // classification

  double samples_per_s() const { return seconds > 0 ? samples / seconds : 0.0; }
  nlohmann::json to_json() const;
};

// The input length eval truncates to: the smaller of config.json's position limit
// (max_position_embeddings, n_positions, n_ctx) and the tokenizer's model_max_length; nullopt when
// neither says.
std::optional<size_t> default_max_length(const std::string& model_dir);

// The task a folder's config.json implies (architectures: ...ForSequenceClassification ->
// text-classification, ...ForConditionalGeneration -> text2text-generation, ...CausalLM /
// ...LMHeadModel -> text-generation); throws BadInput asking for --task when it implies none.
std::string default_task(const std::string& model_dir);

// The column names the task reads by default, and the flag that names the expected column.
DataColumns default_columns(TaskKind kind);

using Progress = std::function<void(size_t done, size_t total)>;

// Loads the pipeline for `model_dir` (kiln::pipeline), checks every expected label against the
// model's labels (BadInput naming file, line and column for one it does not know), runs the examples
// in batches through the task's typed call (classify, generate) and scores them.
EvalResult evaluate(const std::string& model_dir, const std::vector<Example>& examples, const EvalSettings& settings,
                    const Progress& progress = nullptr);
// The same with a pipeline already loaded for settings.task on model_dir (load_seconds stays 0).
EvalResult evaluate(Pipeline& pipe, const std::string& model_dir, const std::vector<Example>& examples,
                    const EvalSettings& settings, const Progress& progress = nullptr);

}  // namespace kiln::eval
