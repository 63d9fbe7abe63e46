// Generation settings by their transformers names (GenerationConfig / generate() kwargs), with
// transformers 4.25's defaults. Model folders fill them from generation_config.json or config.json;
// callers override single fields.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace kiln::gen {

struct GenerationConfig {
  int64_t max_length = 20;                 // total length, start ids included
  std::optional<int64_t> max_new_tokens;   // when set, wins over max_length
  int64_t min_length = 0;                  // eos is banned while the sequence is shorter
  std::optional<int64_t> min_new_tokens;   // when set, wins over min_length
  bool do_sample = false;
  int num_beams = 1;
  float temperature = 1.0f;
  int top_k = 50;      // sampling only; 0 = off
  float top_p = 1.0f;  // sampling only; 1 = off
  float repetition_penalty = 1.0f;
  int no_repeat_ngram_size = 0;
  float length_penalty = 1.0f;
  bool early_stopping = false;
  int num_return_sequences = 1;
  std::vector<std::vector<int64_t>> bad_words_ids;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::vector<int64_t> eos_token_ids;  // any of them ends a sequence
  std::optional<int64_t> decoder_start_token_id;
  std::optional<int64_t> forced_bos_token_id;
  std::optional<int64_t> forced_eos_token_id;
  std::optional<uint64_t> seed;  // sampling; nullopt = a random seed
  bool use_cache = true;
  // Tokens set to -inf on the raw logits before anything else (a model's
  // adjust_logits_during_generation: Marian never generates its pad token).
  std::vector<int64_t> banned_raw_token_ids;

  bool is_eos(int64_t id) const {
    for (int64_t e : eos_token_ids)
      if (e == id) return true;
    return false;
  }
  // Total-length limits for generation that starts from `start_len` ids.
  int64_t effective_max_length(int64_t start_len) const {
    return max_new_tokens ? start_len + *max_new_tokens : max_length;
  }
  int64_t effective_min_length(int64_t start_len) const {
    return min_new_tokens ? start_len + *min_new_tokens : min_length;
  }
};

}  // namespace kiln::gen
