#include "export/model_files.h"

#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "core/tensor_json.h"

namespace kiln::exporting {

namespace fs = std::filesystem;
using nlohmann::json;

// GenerationConfig's fields and defaults (transformers 4.26, the first version that writes the file).
static const json& generation_defaults() {
  static const json d = {
      {"max_length", 20},
      {"max_new_tokens", nullptr},
      {"min_length", 0},
      {"min_new_tokens", nullptr},
      {"early_stopping", false},
      {"max_time", nullptr},
      {"do_sample", false},
      {"num_beams", 1},
      {"num_beam_groups", 1},
      {"penalty_alpha", nullptr},
      {"use_cache", true},
      {"temperature", 1.0},
      {"top_k", 50},
      {"top_p", 1.0},
      {"typical_p", 1.0},
      {"epsilon_cutoff", 0.0},
      {"eta_cutoff", 0.0},
      {"diversity_penalty", 0.0},
      {"repetition_penalty", 1.0},
      {"encoder_repetition_penalty", 1.0},
      {"length_penalty", 1.0},
      {"no_repeat_ngram_size", 0},
      {"bad_words_ids", nullptr},
      {"force_words_ids", nullptr},
      {"renormalize_logits", false},
      {"constraints", nullptr},
      {"forced_bos_token_id", nullptr},
      {"forced_eos_token_id", nullptr},
      {"remove_invalid_values", false},
      {"exponential_decay_length_penalty", nullptr},
      {"suppress_tokens", nullptr},
      {"begin_suppress_tokens", nullptr},
      {"forced_decoder_ids", nullptr},
      {"num_return_sequences", 1},
      {"output_attentions", false},
      {"output_hidden_states", false},
      {"output_scores", false},
      {"return_dict_in_generate", false},
      {"pad_token_id", nullptr},
      {"bos_token_id", nullptr},
      {"eos_token_id", nullptr},
      {"encoder_no_repeat_ngram_size", 0},
      {"decoder_start_token_id", nullptr},
  };
  return d;
}

json generation_config_from_model_config(const json& config) {
  json out = json::object();
  if (!config.is_object()) return out;
  for (const auto& [key, dflt] : generation_defaults().items()) {
    auto it = config.find(key);
    if (it != config.end() && *it != dflt) out[key] = *it;
  }
  // Encoder-decoder configs may keep generation fields in their decoder's sub-config.
  for (const char* sub : {"decoder", "generator", "text_config"}) {
    auto s = config.find(sub);
    if (s == config.end() || !s->is_object()) continue;
    for (const auto& [key, dflt] : generation_defaults().items()) {
      auto it = s->find(key);
      if (!out.contains(key) && it != s->end() && *it != dflt) out[key] = *it;
    }
  }
  out["_from_model_config"] = true;
  if (config.contains("transformers_version")) out["transformers_version"] = config["transformers_version"];
  return out;
}

}  // namespace kiln::exporting
