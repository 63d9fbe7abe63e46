#include "pipelines/model_config.h"


#include "core/error.h"
#include "core/tensor_json.h"

namespace kiln::pipelines {
using nlohmann::json;

namespace {

nlohmann::json read_json(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw BadModel(fmt::format("{} is not valid JSON ({}); fix or re-export it", path, e.what()));
  }
}

template <typename T>
void get(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    throw BadModel(fmt::format("config field '{}' has the wrong type ({})", key, it->dump()));
  }
}

}  // namespace

std::string ModelConfig::label(int64_t id) const {
  return id >= 0 && id < (int64_t)labels.size() ? labels[(size_t)id] : fmt::format("LABEL_{}", id);
}

void ModelConfig::apply_task_params(const std::string& task) {
  auto tsp = raw.find("task_specific_params");
  if (tsp == raw.end() || !tsp->is_object()) return;
  auto it = tsp->find(task);
  if (it == tsp->end() || !it->is_object()) return;
  generation::overlay(generation::generation_options_from_json(*it), generation);
  get(*it, "prefix", prefix);
}

ModelConfig read_model_config(const ModelFolder& folder) {
  const std::string path = folder.require_config();
  ModelConfig c;
  c.raw = read_json(path);
  const json& j = c.raw;
  // What every reader of a folder needs comes from ModelFolder (one parse of those fields).
  c.model_type = folder.model_type();
  c.architectures = folder.architectures();
  c.is_encoder_decoder = folder.is_encoder_decoder();
  c.labels = folder.labels();
  c.vocab_size = folder.vocab_size();
  c.prefix = folder.prefix();
  get(j, "problem_type", c.problem_type);
  // Decoder attention sizes under the names each architecture uses.
  int64_t heads = 0, hidden = 0, kv = 0;
  for (const char* k : {"decoder_attention_heads", "num_heads", "n_head", "num_attention_heads", "decoder_num_heads"})
    if (!heads) get(j, k, heads);
  for (const char* k : {"d_model", "n_embd", "hidden_size", "dim"})
    if (!hidden) get(j, k, hidden);
  get(j, "d_kv", kv);
  c.decoder_heads = heads;
  c.head_dim = kv ? kv : (heads ? hidden / heads : 0);
  // Generation settings: config.json's, then generation_config.json's over them.
  GenerationOptions layers = generation::generation_options_from_json(j);
  if (const std::string& gpath = folder.generation_config_path(); !gpath.empty()) {
    json g = read_json(gpath);
    KILN_CHECK(g.is_object(), BadModel, "{} must hold a JSON object", gpath);
    layers.merge(generation::generation_options_from_json(g));
  }
  generation::overlay(layers, c.generation);
  return c;
}

}  // namespace kiln::pipelines
