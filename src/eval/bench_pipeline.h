// `kiln bench DIR`: times a task pipeline as a user calls it (kiln::pipeline and the typed call of
// its task: tokenize, run, post-process) on a model folder, batch by batch; for generation tasks
// also the encoder, each decoder step and the tokens per second with every sequence forced to the
// same number of new tokens.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "kiln/pipeline.h"

namespace kiln::eval {

struct BenchSettings {
  std::string task;
  PipelineOptions pipeline;        // batch_size, threads, file
  size_t seq_len = 128;            // synthetic inputs of this many tokens (when data_file is empty)
  std::string data_file;           // else texts from this file, repeated to fill `samples`
  DataColumns columns;
  size_t samples = 128;            // inputs timed
  int warmup = 1;                  // untimed batches first
  int64_t max_new_tokens = 16;     // generation: every sequence gets exactly this many new tokens
};

struct BenchResult {
  double load_ms = 0, min_ms = 0, median_ms = 0, p90_ms = 0, max_ms = 0, total_ms = 0;  // per batch
  double samples_per_s = 0, peak_rss_mb = 0;
  size_t batch_size = 0, seq_len = 0, samples = 0, batches = 0;
  int threads = 0;
  bool synthetic_text = false;  // seq_len inputs were text (tokenizer timed) rather than ids
  bool generation = false;
  int64_t new_tokens = 0;
  double encoder_ms = 0, first_token_ms = 0, step_ms = 0, tokens_per_s = 0;

  nlohmann::json to_json() const;
};

BenchResult bench_pipeline(const std::string& model_dir, const BenchSettings& settings);

// Peak resident memory of this process so far, in MB (getrusage).
double peak_rss_mb();

}  // namespace kiln::eval
