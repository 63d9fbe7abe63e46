// generate(): greedy search, multinomial sampling, beam search and beam sampling over a StepModel,
// with transformers 4.25's semantics (stopping at max_length, eos handling, pad after eos).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "pipelines/generation/generation_config.h"
#include "pipelines/generation/step_model.h"

namespace kiln::gen {

// Called with (input index, return-sequence index, token) for each new token of greedy and
// sampling runs, as soon as it is chosen. Beam search does not stream (its beams change).
using TokenCallback = kiln::TokenCallback;

struct GenerateResult {
  // Per input: num_return_sequences sequences, each start ids + new tokens, as generate() returns
  // them for that input alone (a finished sequence ends at its eos, no padding after it).
  std::vector<std::vector<std::vector<int64_t>>> sequences;
  // Per input, per sequence: beam search's sequences_scores (empty for greedy and sampling).
  std::vector<std::vector<double>> scores;
};

// start: one row per input, all of the same length (decoder_start for encoder-decoders, the prompt
// for decoder-only models). The model holds one row per input; generate() expands it for beams or
// several return sequences.
GenerateResult generate(StepModel& model, const std::vector<std::vector<int64_t>>& start, const GenerationConfig& config,
                        const TokenCallback& on_token = nullptr);

// The candidates beam search ranks: for each input, the best n of num_beams x vocab scores,
// best first, ties to the lower flat index (torch.topk order for distinct values).
void top_candidates(std::span<const float> scores, int batch, int num_beams, int64_t vocab, int n,
                    std::vector<float>& cand_scores, std::vector<int64_t>& cand_tokens, std::vector<int64_t>& cand_beams);

}  // namespace kiln::gen
