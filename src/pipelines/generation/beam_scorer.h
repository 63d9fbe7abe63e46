// Beam search bookkeeping with the semantics of transformers 4.25's BeamSearchScorer and
// BeamHypotheses: finished hypotheses are kept per input with score sum_logprobs / len^length_penalty,
// an input is done when it holds num_beams hypotheses and (early_stopping, or no open beam can still
// beat the worst of them), and finalize() pads with pad and ends short ones with eos.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::pipelines::generation {

class BeamHypotheses {
 public:
  BeamHypotheses(int num_beams, float length_penalty, bool early_stopping)
      : num_beams_(num_beams), length_penalty_(length_penalty), early_stopping_(early_stopping) {}
  void add(std::vector<int64_t> hyp, double sum_logprobs);
  bool is_done(double best_sum_logprobs, int64_t cur_len) const;
  size_t size() const { return beams_.size(); }
  struct Hyp {
    double score;
    std::vector<int64_t> ids;
  };
  const std::vector<Hyp>& beams() const { return beams_; }

 private:
  int num_beams_;
  float length_penalty_;
  bool early_stopping_;
  std::vector<Hyp> beams_;
  double worst_score_ = 1e9;
};

struct BeamStep {
  std::vector<float> scores;     // [batch * num_beams] running sum of log-probabilities
  std::vector<int64_t> tokens;   // [batch * num_beams] token appended to each beam
  std::vector<int64_t> indices;  // [batch * num_beams] row (batch * num_beams + beam) each beam continues
};

struct BeamOutput {
  std::vector<std::vector<int64_t>> sequences;  // [batch * num_return_sequences]
  std::vector<double> scores;
};

class BeamSearchScorer {
 public:
  BeamSearchScorer(int batch_size, int num_beams, float length_penalty, bool early_stopping, int num_return_sequences);

  // sequences: the current [batch * num_beams] rows; candidates per input: 2 * num_beams entries of
  // (score, token, beam) sorted best first, as torch.topk over num_beams * vocab gives them.
  BeamStep process(const std::vector<std::vector<int64_t>>& sequences, const std::vector<float>& cand_scores,
                   const std::vector<int64_t>& cand_tokens, const std::vector<int64_t>& cand_beams,
                   const std::vector<int64_t>& eos_ids, int64_t pad_token_id);
  bool is_done() const;
  bool is_done(int batch) const { return done_[batch]; }
  BeamOutput finalize(const std::vector<std::vector<int64_t>>& sequences, const std::vector<float>& beam_scores,
                      int64_t max_length, int64_t pad_token_id, int64_t eos_token_id);

 private:
  int batch_, num_beams_, num_return_;
  std::vector<BeamHypotheses> hyps_;
  std::vector<bool> done_;
};

}  // namespace kiln::pipelines::generation
