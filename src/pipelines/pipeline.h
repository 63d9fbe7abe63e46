// kiln::pipeline(): transformers' pipeline() in C++.
//
//   auto p = kiln::pipeline("text-classification", "model_dir", {.threads = 2});
//   nlohmann::json r = (*p)("I love this");          // {"label": "positive", "score": 0.98}
//   std::vector<nlohmann::json> rs = (*p)({"a", "b"});
//
// Tasks: text-classification (sentiment-analysis), token-classification (ner), question-answering,
// feature-extraction, fill-mask, text2text-generation, summarization, translation[_xx_to_yy],
// text-generation. Each task's class (pipelines/tasks.h) also returns typed results.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/limits.h"
#include "pipelines/generation/generation_config.h"
#include "pipelines/generation/search.h"

namespace kiln {

// Generation settings given by the caller; unset fields keep the model's own (generation_config.json,
// config.json, task_specific_params).
struct GenerationOptions {
  std::optional<int64_t> max_new_tokens, max_length, min_new_tokens, min_length;
  std::optional<int> num_beams, num_return_sequences, top_k, no_repeat_ngram_size;
  std::optional<bool> do_sample, early_stopping, use_cache;
  std::optional<float> temperature, top_p, repetition_penalty, length_penalty;
  std::optional<std::vector<std::vector<int64_t>>> bad_words_ids;
  std::optional<int64_t> forced_bos_token_id, forced_eos_token_id, pad_token_id, decoder_start_token_id;
  std::optional<std::vector<int64_t>> eos_token_ids;
  std::optional<uint64_t> seed;

  void apply_to(gen::GenerationConfig& c) const;
};

struct PipelineOptions {
  std::string device = "cpu";
  int threads = 0;       // 0 = one per core
  // Limits of each graph run (SessionOptions): largest tensor in bytes (0 = none) and wall-clock
  // milliseconds per run (0 = none; a generation makes one run per token).
  size_t max_tensor_bytes = size_t(16) << 30;
  int64_t run_timeout_ms = 0;
  // Limits on reading each graph file (SessionOptions::max_model_bytes, max_subgraph_depth).
  LoadLimits load_limits;
  std::string file;      // graph file ("model_quantized.onnx") or suffix of every graph ("quantized")
  size_t batch_size = 1;  // inputs run together (padded); results equal one-by-one runs
  bool truncation = false;
  std::optional<size_t> max_length;  // tokenizer truncation length (default: the tokenizer's limit)
  // text-classification: all scores sorted when set (top_k labels); fill-mask: candidates (default 5).
  std::optional<int> top_k;
  std::string function_to_apply;  // text-classification: "" (by problem_type), softmax, sigmoid, none
  std::string aggregation_strategy = "none";  // token-classification: none, simple, first, average, max
  // question-answering
  size_t doc_stride = 128, max_answer_length = 15, max_seq_length = 384;
  bool handle_impossible_answer = false;
  // feature-extraction
  std::string pooling = "none";  // none (token embeddings), mean, cls
  bool normalize = false;
  // generation
  GenerationOptions generation;
  gen::TokenCallback on_token;  // streamed new tokens (greedy and sampling)
  // text2text tasks: called after the encoder graph ran on each batch (kiln bench times the encoder).
  std::function<void()> on_encoded;
};

// One input. `ids` bypasses the tokenizer (works in folders without tokenizer files).
// `text_pair`: the second segment of a sentence pair, or the context of question-answering.
struct PipelineInput {
  std::string text;
  std::optional<std::string> text_pair;
  std::optional<std::vector<int64_t>> ids;

  PipelineInput() = default;
  PipelineInput(std::string t) : text(std::move(t)) {}
  PipelineInput(const char* t) : text(t) {}
  static PipelineInput from_ids(std::vector<int64_t> ids) {
    PipelineInput in;
    in.ids = std::move(ids);
    return in;
  }
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  const std::string& task() const { return task_; }
  // One JSON result per input, in order.
  virtual std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) = 0;

  nlohmann::json operator()(const PipelineInput& input) { return run({input}).at(0); }
  std::vector<nlohmann::json> operator()(const std::vector<std::string>& texts) {
    return run(std::vector<PipelineInput>(texts.begin(), texts.end()));
  }

 protected:
  explicit Pipeline(std::string task) : task_(std::move(task)) {}
  std::string task_;
};

// Opens the model folder for the task. Throws (kiln::Error) naming what is missing or does not fit:
// an unknown task, a folder without the graphs or config the task needs, graph inputs/outputs the
// task cannot use.
std::unique_ptr<Pipeline> pipeline(const std::string& task, const std::string& model_dir, const PipelineOptions& options = {});

// The task names pipeline() accepts (aliases included).
std::vector<std::string> pipeline_tasks();

}  // namespace kiln
