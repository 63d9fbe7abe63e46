// A model folder opened for the pipelines: what the folder holds comes from kiln::ModelFolder
// (graphs, tokenizer location); this adds the parsed config, the sessions and the loaded tokenizer.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/model_folder.h"
#include "pipelines/model_config.h"
#include "runtime/session.h"
#include "tokenizers/tokenizer.h"

namespace kiln::pipelines {

class ModelDir {
 public:
  // file: "" (the plain graphs), a graph file name ("model_quantized.onnx"), or a suffix that every
  // graph of the folder carries ("quantized" -> encoder_model_quantized.onnx ...).
  ModelDir(std::string dir, std::string file = "", int threads = 0);

  const std::string& dir() const { return dir_; }
  const ModelFolder& folder() const { return folder_; }
  const ModelConfig& config() const { return config_; }
  ModelConfig& config() { return config_; }

  // Path of graph `stem` ("model", "encoder_model", ...) as the file option picks it; nullopt if absent.
  std::optional<std::string> find_graph(const std::string& stem) const;
  // Like find_graph, but throws IoError naming the file, what the folder holds and what the task needs.
  std::string require_graph(const std::string& stem, const std::string& task) const;
  // A session over graph `path`; kv_cache_in_place for decoder_with_past_model graphs (its caches
  // then grow in place step to step: SessionOptions::kv_cache_in_place).
  std::shared_ptr<const Session> open(const std::string& path, bool kv_cache_in_place = false) const;
  // A merged decoder (decoder_model_merged.onnx) as two sessions over one read of the file: the
  // first step's, use_cache_branch fixed false, and the later steps', fixed true with
  // kv_cache_in_place (SessionOptions::fixed_inputs: each keeps its branch only, inlined and
  // optimized like the two-graph layout's graphs). nullopt when the graph has no use_cache_branch.
  struct DecoderPair {
    std::shared_ptr<const Session> no_past, with_past;
  };
  std::optional<DecoderPair> open_merged_decoder(const std::string& path) const;
  // The device every session open() makes runs on (SessionOptions::device).
  void set_device(Device device) { device_ = device; }
  // Limits given to every session open() makes (SessionOptions::max_tensor_bytes, run_timeout_ms).
  void set_run_limits(size_t max_tensor_bytes, int64_t run_timeout_ms) {
    max_tensor_bytes_ = max_tensor_bytes;
    run_timeout_ms_ = run_timeout_ms;
  }
  // Limits on reading each graph file (SessionOptions::max_model_bytes, max_subgraph_depth).
  void set_load_limits(const LoadLimits& limits) { load_limits_ = limits; }

  // The tokenizer (loaded once); throws naming the files looked for when there is none.
  const Tokenizer& tokenizer() const;
  bool has_tokenizer() const;
  // All .onnx files in the folder, for messages.
  std::string graphs_listing() const;

 private:
  SessionOptions session_options(bool kv_cache_in_place) const;

  std::string dir_, file_;
  ModelFolder folder_;
  int threads_;
  Device device_;
  size_t max_tensor_bytes_ = size_t(16) << 30;
  int64_t run_timeout_ms_ = 0;
  LoadLimits load_limits_;
  ModelConfig config_;
  mutable std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace kiln::pipelines
