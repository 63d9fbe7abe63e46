// What the generation tasks share: caller options over model defaults, JSON results.
#include "core/error.h"
#include "pipelines/tasks.h"

namespace kiln {

void GenerationOptions::apply_to(gen::GenerationConfig& c) const {
  if (max_length) c.max_length = *max_length, c.max_new_tokens.reset();
  if (max_new_tokens) c.max_new_tokens = *max_new_tokens;
  if (min_length) c.min_length = *min_length, c.min_new_tokens.reset();
  if (min_new_tokens) c.min_new_tokens = *min_new_tokens;
  if (num_beams) c.num_beams = *num_beams;
  if (num_return_sequences) c.num_return_sequences = *num_return_sequences;
  if (top_k) c.top_k = *top_k;
  if (no_repeat_ngram_size) c.no_repeat_ngram_size = *no_repeat_ngram_size;
  if (do_sample) c.do_sample = *do_sample;
  if (early_stopping) c.early_stopping = *early_stopping;
  if (use_cache) c.use_cache = *use_cache;
  if (temperature) c.temperature = *temperature;
  if (top_p) c.top_p = *top_p;
  if (repetition_penalty) c.repetition_penalty = *repetition_penalty;
  if (length_penalty) c.length_penalty = *length_penalty;
  if (bad_words_ids) c.bad_words_ids = *bad_words_ids;
  if (forced_bos_token_id) c.forced_bos_token_id = *forced_bos_token_id;
  if (forced_eos_token_id) c.forced_eos_token_id = *forced_eos_token_id;
  if (pad_token_id) c.pad_token_id = *pad_token_id;
  if (decoder_start_token_id) c.decoder_start_token_id = *decoder_start_token_id;
  if (eos_token_ids) c.eos_token_ids = *eos_token_ids;
  if (seed) c.seed = *seed;
  KILN_CHECK(!max_new_tokens || *max_new_tokens >= 0, BadInput, "max_new_tokens must be >= 0");
  KILN_CHECK(c.num_beams >= 1, BadInput, "num_beams must be >= 1, got {}", c.num_beams);
  KILN_CHECK(c.num_return_sequences >= 1, BadInput, "num_return_sequences must be >= 1");
  KILN_CHECK(c.do_sample || c.num_beams == 1 || c.num_return_sequences <= c.num_beams, BadInput,
             "num_return_sequences ({}) must be <= num_beams ({})", c.num_return_sequences, c.num_beams);
}

namespace pipelines {

nlohmann::json generation_to_json(const Generation& g) {
  nlohmann::json j;
  j["sequences"] = g.sequences;
  if (!g.scores.empty()) j["sequences_scores"] = g.scores;
  if (!g.texts.empty()) {
    j["generated_text"] = g.texts[0];
    if (g.texts.size() > 1) j["generated_texts"] = g.texts;
  }
  return j;
}

}  // namespace pipelines
}  // namespace kiln
