// Logits processors and warpers with the semantics of transformers 4.25 (generation_logits_process.py):
// each changes one row's next-token scores in place, given the ids generated so far (start ids
// included). Processors run in transformers' order; warpers (temperature, top-k, top-p) only when
// sampling.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pipelines/generation/generation_config.h"

namespace kiln::pipelines::generation {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  virtual void apply(std::span<const int64_t> ids, std::span<float> scores) const = 0;
};

// Divides positive scores of already-seen tokens by the penalty, multiplies negative ones.
class RepetitionPenalty : public LogitsProcessor {
 public:
  explicit RepetitionPenalty(float penalty);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  float penalty_;
};

// Bans every token that would repeat an n-gram already in ids.
class NoRepeatNGram : public LogitsProcessor {
 public:
  explicit NoRepeatNGram(int n);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  int n_;
};

// Bans the last token of each sequence whose prefix ends ids (one-token sequences always);
// a sequence that is just [eos] is ignored, as transformers does.
class NoBadWords : public LogitsProcessor {
 public:
  NoBadWords(std::vector<std::vector<int64_t>> bad_words, const std::vector<int64_t>& eos_ids);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  std::vector<std::vector<int64_t>> bad_;
};

// Bans eos while ids are shorter than min_length.
class MinLength : public LogitsProcessor {
 public:
  MinLength(int64_t min_length, std::vector<int64_t> eos_ids);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  int64_t min_length_;
  std::vector<int64_t> eos_;
};

// Forces `token` when ids has exactly `at_length` tokens (forced_bos: 1; forced_eos: max_length-1).
class ForcedToken : public LogitsProcessor {
 public:
  ForcedToken(int64_t token, int64_t at_length);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  int64_t token_, at_length_;
};

class Temperature : public LogitsProcessor {
 public:
  explicit Temperature(float t);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  float t_;
};

// Keeps the k best scores (ties with the k-th kept), sets the rest to -inf.
class TopK : public LogitsProcessor {
 public:
  TopK(int k, int min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  int k_, min_keep_;
};

// Nucleus filtering: removes the least likely tokens whose total probability is <= 1 - p.
class TopP : public LogitsProcessor {
 public:
  TopP(float p, int min_tokens_to_keep = 1);
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override;
 private:
  float p_;
  int min_keep_;
};

class LogitsProcessorList {
 public:
  void add(std::unique_ptr<LogitsProcessor> p) { list_.push_back(std::move(p)); }
  void apply(std::span<const int64_t> ids, std::span<float> scores) const {
    for (const auto& p : list_) p->apply(ids, scores);
  }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
 private:
  std::vector<std::unique_ptr<LogitsProcessor>> list_;
};

// The processors generate() builds for a config, for sequences that start with start_len ids.
LogitsProcessorList make_logits_processors(const GenerationConfig& c, int64_t start_len);
// The sampling warpers (temperature, top-k, top-p); min_tokens_to_keep is 2 with beams.
LogitsProcessorList make_logits_warpers(const GenerationConfig& c);

// In-place helpers on one row.
void log_softmax_inplace(std::span<float> x);
void softmax_inplace(std::span<float> x);

}  // namespace kiln::pipelines::generation
