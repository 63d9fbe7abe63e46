#include "pipelines/model_dir.h"

#include "core/error.h"

namespace kiln::pipelines {

ModelDir::ModelDir(std::string dir, std::string file, int threads)
    : dir_(std::move(dir)), file_(std::move(file)), folder_(ModelFolder::open(dir_)), threads_(threads) {
  config_ = read_model_config(folder_);
}

std::optional<std::string> ModelDir::find_graph(const std::string& stem) const { return folder_.graph(stem, file_); }

std::string ModelDir::graphs_listing() const { return folder_.graphs_listing(); }

std::string ModelDir::require_graph(const std::string& stem, const std::string& task) const {
  return folder_.require_graph(stem, file_, fmt::format("task {} needs it", task));
}

SessionOptions ModelDir::session_options(bool kv_cache_in_place) const {
  SessionOptions so;
  so.kv_cache_in_place = kv_cache_in_place;
  so.threads = threads_;
  so.device = device_;
  so.max_tensor_bytes = max_tensor_bytes_;
  so.run_timeout_ms = run_timeout_ms_;
  so.max_model_bytes = load_limits_.max_model_bytes;
  so.max_subgraph_depth = load_limits_.max_subgraph_depth;
  return so;
}

std::shared_ptr<const Session> ModelDir::open(const std::string& path, bool kv_cache_in_place) const {
  return std::make_shared<const Session>(path, session_options(kv_cache_in_place));
}

std::optional<ModelDir::DecoderPair> ModelDir::open_merged_decoder(const std::string& path) const {
  Model model = read_model(path, session_options(false));
  const ValueInfo* branch = model.graph.find_input("use_cache_branch");
  if (!branch || branch->dtype != DType::Bool) return std::nullopt;
  DecoderPair pair;
  SessionOptions first = session_options(false);
  first.fixed_inputs["use_cache_branch"] = Tensor::from_vector<bool>({1}, {false});
  pair.no_past = std::make_shared<const Session>(Model(model), first);  // a copy: the weights are shared
  SessionOptions later = session_options(true);
  later.fixed_inputs["use_cache_branch"] = Tensor::from_vector<bool>({1}, {true});
  pair.with_past = std::make_shared<const Session>(std::move(model), later);
  return pair;
}

bool ModelDir::has_tokenizer() const { return tokenizer_ || folder_.has_tokenizer(); }

const Tokenizer& ModelDir::tokenizer() const {
  if (!tokenizer_)
    tokenizer_ = Tokenizer::from_dir(
        folder_.require_tokenizer_dir("copy the tokenizer files in, or pass token ids with --input-ids"));
  return *tokenizer_;
}

}  // namespace kiln::pipelines
