#include "pipelines/generation/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <span>

#include "core/error.h"
#include "pipelines/generation/beam_scorer.h"
#include "pipelines/generation/logits_processors.h"

namespace kiln::gen {
namespace {

std::vector<int64_t> repeat_rows(int64_t n, int times) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < times; ++j) idx.push_back(i);
  return idx;
}

class Sampler {
 public:
  explicit Sampler(std::optional<uint64_t> seed) : rng_(seed ? *seed : std::random_device{}()) {}
  double uniform() { return (double)(rng_() >> 11) * 0x1.0p-53; }
  // Draws an index with probability proportional to weights (all >= 0, some > 0).
  int64_t draw(std::span<const float> w) {
    double total = 0;
    for (float v : w) total += v;
    double u = uniform() * total, acc = 0;
    int64_t last = -1;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] <= 0) continue;
      acc += w[i];
      last = (int64_t)i;
      if (u < acc) return (int64_t)i;
    }
    return last;
  }
 private:
  std::mt19937_64 rng_;
};

void ban_raw(const GenerationConfig& c, std::span<float> row) {
  for (int64_t t : c.banned_raw_token_ids)
    if (t >= 0 && t < (int64_t)row.size()) row[t] = -std::numeric_limits<float>::infinity();
}

int64_t argmax(std::span<const float> v) {
  int64_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = (int64_t)i;
  return best;
}

int64_t pad_id(const GenerationConfig& c) {
  if (c.pad_token_id) return *c.pad_token_id;
  if (!c.eos_token_ids.empty()) return c.eos_token_ids[0];  // generate() does the same (with a warning)
  return 0;
}

// A sequence as a one-input generate() call returns it: cut after its first generated eos.
void cut_after_eos(std::vector<int64_t>& seq, size_t start_len, const GenerationConfig& c) {
  for (size_t i = start_len; i < seq.size(); ++i)
    if (c.is_eos(seq[i])) {
      seq.resize(i + 1);
      return;
    }
}

GenerateResult greedy_or_sample(StepModel& model, const std::vector<std::vector<int64_t>>& start,
                                const GenerationConfig& c, const TokenCallback& on_token) {
  const int64_t B = (int64_t)start.size(), L0 = (int64_t)start[0].size();
  const int N = c.do_sample ? c.num_return_sequences : 1;
  KILN_CHECK(c.do_sample || c.num_return_sequences == 1, BadInput,
             "num_return_sequences is {} but greedy search returns one sequence; use --num-beams or --do-sample",
             c.num_return_sequences);
  if (N > 1) model.select(repeat_rows(B, N));
  const int64_t R = B * N;
  std::vector<std::vector<int64_t>> seqs;
  for (int64_t b = 0; b < B; ++b)
    for (int j = 0; j < N; ++j) seqs.push_back(start[b]);
  const int64_t max_len = c.effective_max_length(L0), pad = pad_id(c);
  const LogitsProcessorList procs = make_logits_processors(c, L0);
  const LogitsProcessorList warpers = c.do_sample ? make_logits_warpers(c) : LogitsProcessorList{};
  Sampler sampler(c.seed);
  std::vector<bool> open(R, true);
  std::vector<std::vector<int64_t>> feed = seqs;
  int64_t cur_len = L0;
  while (true) {
    std::span<float> logits = model.step(feed);
    const int64_t V = model.vocab_size();
    KILN_CHECK((int64_t)logits.size() == R * V, InternalError, "decoder gave {} logits for {} rows", logits.size(), R);
    for (int64_t r = 0; r < R; ++r) {
      std::span<float> row(logits.data() + r * V, (size_t)V);
      ban_raw(c, row);
      procs.apply(seqs[r], row);
      int64_t tok;
      if (c.do_sample) {
        warpers.apply(seqs[r], row);
        softmax_inplace(row);
        tok = sampler.draw(row);
      } else {
        tok = argmax(row);
      }
      if (!open[r]) tok = pad;
      seqs[r].push_back(tok);
      if (open[r] && on_token) on_token((size_t)(r / N), (size_t)(r % N), tok);
      if (open[r] && c.is_eos(tok)) open[r] = false;
    }
    ++cur_len;
    if (std::none_of(open.begin(), open.end(), [](bool o) { return o; }) || cur_len >= max_len) break;
    for (int64_t r = 0; r < R; ++r) feed[r].assign(1, seqs[r].back());
  }
  GenerateResult out;
  out.sequences.resize(B);
  out.scores.resize(B);
  for (int64_t r = 0; r < R; ++r) {
    cut_after_eos(seqs[r], (size_t)L0, c);
    out.sequences[r / N].push_back(std::move(seqs[r]));
  }
  return out;
}

GenerateResult beam(StepModel& model, const std::vector<std::vector<int64_t>>& start, const GenerationConfig& c) {
  const int K = c.num_beams;
  // Beam sampling runs num_return_sequences independent searches that keep one hypothesis each.
  const int groups = c.do_sample ? c.num_return_sequences : 1;
  const int keep = c.do_sample ? 1 : c.num_return_sequences;
  const int64_t B0 = (int64_t)start.size(), B = B0 * groups, L0 = (int64_t)start[0].size();
  const int64_t R = B * K;
  model.select(repeat_rows(B0, groups * K));
  std::vector<std::vector<int64_t>> seqs;
  for (int64_t b = 0; b < B0; ++b)
    for (int j = 0; j < groups * K; ++j) seqs.push_back(start[b]);
  std::vector<float> beam_scores(R, 0.0f);
  for (int64_t r = 0; r < R; ++r)
    if (r % K) beam_scores[r] = -1e9f;
  BeamSearchScorer scorer((int)B, K, c.length_penalty, c.early_stopping, keep);
  const int64_t max_len = c.effective_max_length(L0), pad = pad_id(c);
  const int64_t eos = c.eos_token_ids.empty() ? pad : c.eos_token_ids[0];
  const LogitsProcessorList procs = make_logits_processors(c, L0);
  const LogitsProcessorList warpers = c.do_sample ? make_logits_warpers(c) : LogitsProcessorList{};
  Sampler sampler(c.seed);
  std::vector<std::vector<int64_t>> feed = seqs;
  int64_t cur_len = L0;
  std::vector<float> cs;
  std::vector<int64_t> ct, cb;
  while (true) {
    std::span<float> scores = model.step(feed);
    const int64_t V = model.vocab_size();
    KILN_CHECK((int64_t)scores.size() == R * V, InternalError, "decoder gave {} logits for {} rows", scores.size(), R);
    for (int64_t r = 0; r < R; ++r) {
      std::span<float> row(scores.data() + r * V, (size_t)V);
      ban_raw(c, row);
      log_softmax_inplace(row);
      procs.apply(seqs[r], row);
      for (float& v : row) v += beam_scores[r];
      if (c.do_sample) warpers.apply(seqs[r], row);
    }
    if (c.do_sample) {
      // Draw 2K distinct (beam, token) pairs from softmax over num_beams x vocab, best score first.
      cs.clear(), ct.clear(), cb.clear();
      for (int64_t b = 0; b < B; ++b) {
        std::span<const float> all(scores.data() + b * K * V, (size_t)(K * V));
        std::vector<float> p(all.begin(), all.end());
        softmax_inplace(p);
        std::vector<std::pair<float, int64_t>> picked;
        for (int i = 0; i < 2 * K; ++i) {
          int64_t f = sampler.draw(p);
          KILN_CHECK(f >= 0, BadInput, "beam sampling: fewer than {} tokens left to draw; raise top_k/top_p", 2 * K);
          picked.push_back({all[f], f});
          p[f] = 0;
        }
        std::stable_sort(picked.begin(), picked.end(), [](auto& x, auto& y) { return x.first > y.first; });
        for (auto& [s, f] : picked) cs.push_back(s), ct.push_back(f % V), cb.push_back(f / V);
      }
    } else {
      top_candidates(scores, (int)B, K, V, 2 * K, cs, ct, cb);
    }
    BeamStep st = scorer.process(seqs, cs, ct, cb, c.eos_token_ids, pad);
    std::vector<std::vector<int64_t>> next(R);
    for (int64_t r = 0; r < R; ++r) {
      next[r] = seqs[st.indices[r]];
      next[r].push_back(st.tokens[r]);
      feed[r].assign(1, st.tokens[r]);
    }
    seqs = std::move(next);
    beam_scores = st.scores;
    ++cur_len;
    if (scorer.is_done() || cur_len >= max_len) break;
    model.select(st.indices);
  }
  BeamOutput bo = scorer.finalize(seqs, beam_scores, max_len, pad, eos);
  GenerateResult out;
  out.sequences.resize(B0);
  out.scores.resize(B0);
  const int per_input = groups * keep;
  for (size_t i = 0; i < bo.sequences.size(); ++i) {
    out.sequences[i / per_input].push_back(std::move(bo.sequences[i]));
    out.scores[i / per_input].push_back(bo.scores[i]);
  }
  return out;
}

}  // namespace

void top_candidates(std::span<const float> scores, int batch, int num_beams, int64_t vocab, int n,
                    std::vector<float>& cand_scores, std::vector<int64_t>& cand_tokens, std::vector<int64_t>& cand_beams) {
  cand_scores.clear(), cand_tokens.clear(), cand_beams.clear();
  const int64_t span = num_beams * vocab;
  std::vector<int64_t> idx((size_t)span);
  for (int b = 0; b < batch; ++b) {
    const float* s = scores.data() + b * span;
    std::iota(idx.begin(), idx.end(), 0);
    auto better = [s](int64_t x, int64_t y) { return s[x] > s[y] || (s[x] == s[y] && x < y); };
    const int64_t take = std::min<int64_t>(n, span);
    std::partial_sort(idx.begin(), idx.begin() + take, idx.end(), better);
    for (int64_t i = 0; i < take; ++i) {
      cand_scores.push_back(s[idx[i]]);
      cand_tokens.push_back(idx[i] % vocab);
      cand_beams.push_back(idx[i] / vocab);
    }
  }
}

GenerateResult generate(StepModel& model, const std::vector<std::vector<int64_t>>& start, const GenerationConfig& c,
                        const TokenCallback& on_token) {
  KILN_CHECK(!start.empty(), BadInput, "generate: no inputs");
  for (const auto& s : start)
    KILN_CHECK(s.size() == start[0].size() && !s.empty(), InternalError,
               "generate: start rows must be non-empty and of one length");
  KILN_CHECK(c.num_beams >= 1, BadInput, "num_beams must be >= 1, got {}", c.num_beams);
  KILN_CHECK(c.num_return_sequences >= 1, BadInput, "num_return_sequences must be >= 1, got {}", c.num_return_sequences);
  KILN_CHECK(model.rows() == (int64_t)start.size(), InternalError, "generate: model has {} rows for {} inputs",
             model.rows(), start.size());
  if (c.num_beams == 1) return greedy_or_sample(model, start, c, on_token);
  return beam(model, start, c);
}

}  // namespace kiln::gen
