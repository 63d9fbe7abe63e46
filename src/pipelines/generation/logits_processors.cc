#include "pipelines/generation/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace kiln::pipelines::generation {

static constexpr float kNegInf = -std::numeric_limits<float>::infinity();

RepetitionPenalty::RepetitionPenalty(float penalty) : penalty_(penalty) {
  KILN_CHECK(penalty > 0, BadInput, "repetition_penalty must be > 0, got {}", penalty);
}
void RepetitionPenalty::apply(std::span<const int64_t> ids, std::span<float> scores) const {
  // Each seen token is penalised once, however often it occurs (gather then scatter).
  std::vector<int64_t> seen(ids.begin(), ids.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int64_t t : seen) {
    if (t < 0 || t >= (int64_t)scores.size()) continue;
    float& s = scores[t];
    s = s < 0 ? s * penalty_ : s / penalty_;
  }
}

NoRepeatNGram::NoRepeatNGram(int n) : n_(n) {
  KILN_CHECK(n > 0, BadInput, "no_repeat_ngram_size must be > 0, got {}", n);
}
void NoRepeatNGram::apply(std::span<const int64_t> ids, std::span<float> scores) const {
  const int64_t len = (int64_t)ids.size();
  if (len + 1 < n_) return;
  // The last n-1 tokens; every earlier n-gram that starts with them bans its last token.
  const int64_t k = n_ - 1, tail = len - k;
  for (int64_t s = 0; s + n_ <= len; ++s) {
    bool same = true;
    for (int64_t j = 0; j < k && same; ++j) same = ids[s + j] == ids[tail + j];
    if (same) {
      int64_t t = ids[s + k];
      if (t >= 0 && t < (int64_t)scores.size()) scores[t] = kNegInf;
    }
  }
}

NoBadWords::NoBadWords(std::vector<std::vector<int64_t>> bad_words, const std::vector<int64_t>& eos_ids) {
  for (auto& w : bad_words) {
    KILN_CHECK(!w.empty(), BadInput, "bad_words_ids holds an empty sequence; give each banned sequence at least one id");
    if (w.size() == 1 && std::find(eos_ids.begin(), eos_ids.end(), w[0]) != eos_ids.end()) continue;
    bad_.push_back(std::move(w));
  }
}
void NoBadWords::apply(std::span<const int64_t> ids, std::span<float> scores) const {
  for (const auto& w : bad_) {
    const size_t p = w.size() - 1;  // prefix length
    if (p > ids.size()) continue;
    bool match = std::equal(w.begin(), w.begin() + p, ids.end() - p);
    if (match && w.back() >= 0 && w.back() < (int64_t)scores.size()) scores[w.back()] = kNegInf;
  }
}

MinLength::MinLength(int64_t min_length, std::vector<int64_t> eos_ids) : min_length_(min_length), eos_(std::move(eos_ids)) {}
void MinLength::apply(std::span<const int64_t> ids, std::span<float> scores) const {
  if ((int64_t)ids.size() >= min_length_) return;
  for (int64_t e : eos_)
    if (e >= 0 && e < (int64_t)scores.size()) scores[e] = kNegInf;
}

ForcedToken::ForcedToken(int64_t token, int64_t at_length) : token_(token), at_length_(at_length) {}
void ForcedToken::apply(std::span<const int64_t> ids, std::span<float> scores) const {
  if ((int64_t)ids.size() != at_length_) return;
  KILN_CHECK(token_ >= 0 && token_ < (int64_t)scores.size(), BadInput,
             "forced token id {} is outside the vocabulary (size {})", token_, scores.size());
  std::fill(scores.begin(), scores.end(), kNegInf);
  scores[token_] = 0;
}

Temperature::Temperature(float t) : t_(t) {
  KILN_CHECK(t > 0, BadInput, "temperature must be > 0, got {}", t);
}
void Temperature::apply(std::span<const int64_t>, std::span<float> scores) const {
  for (float& s : scores) s = s / t_;
}

TopK::TopK(int k, int min_tokens_to_keep) : k_(k), min_keep_(min_tokens_to_keep) {
  KILN_CHECK(k > 0, BadInput, "top_k must be > 0, got {}", k);
}
void TopK::apply(std::span<const int64_t>, std::span<float> scores) const {
  const size_t k = std::min<size_t>(std::max(k_, min_keep_), scores.size());
  if (k == 0 || k == scores.size()) return;
  std::vector<float> v(scores.begin(), scores.end());
  std::nth_element(v.begin(), v.begin() + (k - 1), v.end(), std::greater<float>());
  const float kth = v[k - 1];
  for (float& s : scores)
    if (s < kth) s = kNegInf;
}

TopP::TopP(float p, int min_tokens_to_keep) : p_(p), min_keep_(min_tokens_to_keep) {
  KILN_CHECK(p >= 0 && p <= 1, BadInput, "top_p must be in [0, 1], got {}", p);
}
void TopP::apply(std::span<const int64_t>, std::span<float> scores) const {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Ascending, as transformers sorts; the last entries are the most likely.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<float> probs(n);
  for (size_t i = 0; i < n; ++i) probs[i] = scores[order[i]];
  softmax_inplace(probs);
  float cum = 0;
  std::vector<bool> remove(n);
  for (size_t i = 0; i < n; ++i) {
    cum += probs[i];
    remove[i] = cum <= 1.0f - p_;
  }
  for (size_t i = n > (size_t)min_keep_ ? n - min_keep_ : 0; i < n; ++i) remove[i] = false;
  for (size_t i = 0; i < n; ++i)
    if (remove[i]) scores[order[i]] = kNegInf;
}

LogitsProcessorList make_logits_processors(const GenerationConfig& c, int64_t start_len) {
  LogitsProcessorList l;
  if (c.repetition_penalty != 1.0f) l.add(std::make_unique<RepetitionPenalty>(c.repetition_penalty));
  if (c.no_repeat_ngram_size > 0) l.add(std::make_unique<NoRepeatNGram>(c.no_repeat_ngram_size));
  if (!c.bad_words_ids.empty()) l.add(std::make_unique<NoBadWords>(c.bad_words_ids, c.eos_token_ids));
  const int64_t min_len = c.effective_min_length(start_len);
  if (min_len > 0 && !c.eos_token_ids.empty()) l.add(std::make_unique<MinLength>(min_len, c.eos_token_ids));
  if (c.forced_bos_token_id) l.add(std::make_unique<ForcedToken>(*c.forced_bos_token_id, 1));
  if (c.forced_eos_token_id)
    l.add(std::make_unique<ForcedToken>(*c.forced_eos_token_id, c.effective_max_length(start_len) - 1));
  return l;
}

LogitsProcessorList make_logits_warpers(const GenerationConfig& c) {
  LogitsProcessorList l;
  const int keep = c.num_beams > 1 ? 2 : 1;
  if (c.temperature != 1.0f) l.add(std::make_unique<Temperature>(c.temperature));
  if (c.top_k != 0) l.add(std::make_unique<TopK>(c.top_k, keep));
  if (c.top_p < 1.0f) l.add(std::make_unique<TopP>(c.top_p, keep));
  return l;
}

void log_softmax_inplace(std::span<float> x) {
  float m = kNegInf;
  for (float v : x) m = std::max(m, v);
  if (m == kNegInf) return;
  double sum = 0;
  for (float v : x) sum += std::exp((double)v - m);
  const float lse = (float)((double)m + std::log(sum));
  for (float& v : x) v = v - lse;
}

void softmax_inplace(std::span<float> x) {
  float m = kNegInf;
  for (float v : x) m = std::max(m, v);
  double sum = 0;
  for (float& v : x) {
    v = m == kNegInf ? 0.0f : (float)std::exp((double)v - m);
    sum += v;
  }
  if (sum > 0)
    for (float& v : x) v = (float)(v / sum);
}

}  // namespace kiln::pipelines::generation
