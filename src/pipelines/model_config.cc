#include "pipelines/model_config.h"

#include <filesystem>

#include "core/error.h"
#include "core/tensor_json.h"

namespace kiln::pipelines {
namespace fs = std::filesystem;
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
  auto it = id2label.find(id);
  return it != id2label.end() ? it->second : fmt::format("LABEL_{}", id);
}

void ModelConfig::apply_task_params(const std::string& task) {
  auto tsp = raw.find("task_specific_params");
  if (tsp == raw.end() || !tsp->is_object()) return;
  auto it = tsp->find(task);
  if (it == tsp->end() || !it->is_object()) return;
  gen::overlay(gen::generation_options_from_json(*it), generation);
  get(*it, "prefix", prefix);
}

ModelConfig read_model_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  KILN_CHECK(fs::exists(path), IoError,
             "{} has no config.json; a model folder needs it (labels, special token ids): copy it from the checkpoint",
             dir);
  ModelConfig c;
  c.raw = read_json(path);
  KILN_CHECK(c.raw.is_object(), BadModel, "{} must hold a JSON object", path);
  const json& j = c.raw;
  get(j, "model_type", c.model_type);
  get(j, "architectures", c.architectures);
  get(j, "is_encoder_decoder", c.is_encoder_decoder);
  get(j, "problem_type", c.problem_type);
  get(j, "vocab_size", c.vocab_size);
  get(j, "prefix", c.prefix);
  if (auto it = j.find("id2label"); it != j.end() && it->is_object())
    for (auto& [k, v] : it->items()) {
      try {
        c.id2label[std::stoll(k)] = v.get<std::string>();
      } catch (const std::exception&) {
        throw BadModel(fmt::format("{}: id2label key '{}' is not an integer id", path, k));
      }
    }
  c.num_labels = (int64_t)c.id2label.size();
  get(j, "num_labels", c.num_labels);
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
  GenerationOptions layers = gen::generation_options_from_json(j);
  const std::string gpath = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(gpath)) {
    json g = read_json(gpath);
    KILN_CHECK(g.is_object(), BadModel, "{} must hold a JSON object", gpath);
    layers.merge(gen::generation_options_from_json(g));
  }
  gen::overlay(layers, c.generation);
  return c;
}

}  // namespace kiln::pipelines
