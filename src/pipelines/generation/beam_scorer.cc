#include "pipelines/generation/beam_scorer.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace kiln::pipelines::generation {

void BeamHypotheses::add(std::vector<int64_t> hyp, double sum_logprobs) {
  const double score = sum_logprobs / std::pow((double)hyp.size(), (double)length_penalty_);
  if ((int)beams_.size() < num_beams_ || score > worst_score_) {
    beams_.push_back({score, std::move(hyp)});
    if ((int)beams_.size() > num_beams_) {
      // Drop the worst (the earliest one among equals), then remember the new worst.
      std::vector<size_t> order(beams_.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return beams_[a].score < beams_[b].score; });
      worst_score_ = beams_[order[1]].score;
      beams_.erase(beams_.begin() + order[0]);
    } else {
      worst_score_ = std::min(score, worst_score_);
    }
  }
}

bool BeamHypotheses::is_done(double best_sum_logprobs, int64_t cur_len) const {
  if ((int)beams_.size() < num_beams_) return false;
  if (early_stopping_) return true;
  const double cur_score = best_sum_logprobs / std::pow((double)cur_len, (double)length_penalty_);
  return worst_score_ >= cur_score;
}

BeamSearchScorer::BeamSearchScorer(int batch_size, int num_beams, float length_penalty, bool early_stopping,
                                   int num_return_sequences)
    : batch_(batch_size), num_beams_(num_beams), num_return_(num_return_sequences), done_(batch_size, false) {
  KILN_CHECK(num_beams > 1, BadInput, "beam search needs num_beams > 1 (got {}); use greedy search for 1", num_beams);
  KILN_CHECK(num_return_sequences >= 1 && num_return_sequences <= num_beams, BadInput,
             "num_return_sequences ({}) must be between 1 and num_beams ({})", num_return_sequences, num_beams);
  for (int i = 0; i < batch_size; ++i) hyps_.emplace_back(num_beams, length_penalty, early_stopping);
}

BeamStep BeamSearchScorer::process(const std::vector<std::vector<int64_t>>& sequences, const std::vector<float>& cand_scores,
                                   const std::vector<int64_t>& cand_tokens, const std::vector<int64_t>& cand_beams,
                                   const std::vector<int64_t>& eos_ids, int64_t pad_token_id) {
  const int K = num_beams_, C = 2 * K;
  const int64_t cur_len = sequences.empty() ? 0 : (int64_t)sequences[0].size();
  BeamStep out;
  out.scores.assign((size_t)batch_ * K, 0.0f);
  out.tokens.assign((size_t)batch_ * K, 0);
  out.indices.assign((size_t)batch_ * K, 0);
  auto is_eos = [&](int64_t t) { return std::find(eos_ids.begin(), eos_ids.end(), t) != eos_ids.end(); };
  for (int b = 0; b < batch_; ++b) {
    if (done_[b]) {
      for (int j = 0; j < K; ++j) out.tokens[b * K + j] = pad_token_id;  // scores 0, rows 0
      continue;
    }
    int beam = 0;
    for (int r = 0; r < C; ++r) {
      const size_t c = (size_t)b * C + r;
      const int64_t row = (int64_t)b * K + cand_beams[c];
      if (is_eos(cand_tokens[c])) {
        if (r >= K) continue;  // an eos ranked below the top num_beams does not count
        hyps_[b].add(sequences[row], cand_scores[c]);
      } else {
        out.scores[b * K + beam] = cand_scores[c];
        out.tokens[b * K + beam] = cand_tokens[c];
        out.indices[b * K + beam] = row;
        ++beam;
      }
      if (beam == K) break;
    }
    KILN_CHECK(beam == K, InternalError, "beam search: only {} of {} beams could continue", beam, K);
    // transformers asks with the best of all 2*num_beams candidate scores.
    float best = -INFINITY;
    for (int r = 0; r < C; ++r) best = std::max(best, cand_scores[(size_t)b * C + r]);
    done_[b] = done_[b] || hyps_[b].is_done(best, cur_len);
  }
  return out;
}

bool BeamSearchScorer::is_done() const {
  return std::all_of(done_.begin(), done_.end(), [](bool d) { return d; });
}

BeamOutput BeamSearchScorer::finalize(const std::vector<std::vector<int64_t>>& sequences, const std::vector<float>& beam_scores,
                                      int64_t max_length, int64_t pad_token_id, int64_t eos_token_id) {
  const int K = num_beams_;
  for (int b = 0; b < batch_; ++b) {
    if (done_[b]) continue;
    for (int j = 0; j < K; ++j) hyps_[b].add(sequences[(size_t)b * K + j], beam_scores[(size_t)b * K + j]);
  }
  // Each input is padded on its own (not to the batch's longest), so a batch gives exactly what
  // one-input calls give.
  BeamOutput out;
  for (int b = 0; b < batch_; ++b) {
    auto sorted = hyps_[b].beams();
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.score < y.score; });
    std::vector<std::vector<int64_t>> best;
    for (int j = 0; j < num_return_; ++j) {
      KILN_CHECK(!sorted.empty(), InternalError, "beam search finished with fewer hypotheses than asked for");
      out.scores.push_back(sorted.back().score);
      best.push_back(std::move(sorted.back().ids));
      sorted.pop_back();
    }
    size_t lmin = SIZE_MAX, lmax = 0;
    for (const auto& h : best) lmin = std::min(lmin, h.size()), lmax = std::max(lmax, h.size());
    const size_t width = max_length > 0 ? std::min<size_t>(lmax + 1, (size_t)max_length) : lmax + 1;
    for (auto& row : best) {
      if (row.size() < width) row.push_back(eos_token_id);
      if (lmin != lmax) row.resize(width, pad_token_id);
      out.sequences.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace kiln::pipelines::generation
