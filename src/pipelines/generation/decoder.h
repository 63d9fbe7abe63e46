// The KV-cache driver: runs a decoder's ONNX graphs step by step as a StepModel, in the layouts
// Optimum and kiln write:
//   - encoder-decoder: decoder_model (first step: input_ids, encoder_attention_mask,
//     encoder_hidden_states -> logits, present.*) + decoder_with_past_model (later steps:
//     past_key_values.* in, present.* out; cross-attention entries kept from the first step);
//   - decoder_model_merged: one graph with use_cache_branch choosing the two (If);
//   - decoder-only (GPT-2): decoder_model + decoder_with_past_model with attention_mask over past and
//     new tokens, position_ids when the graph has them.
// Without a with-past graph (or with use_cache off) every step re-runs the whole sequence.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/tensor_json.h"
#include "pipelines/generation/step_model.h"
#include "runtime/session.h"

namespace kiln::pipelines::generation {

struct DecoderGraphs {
  std::shared_ptr<const Session> no_past;    // decoder_model.onnx
  std::shared_ptr<const Session> with_past;  // decoder_with_past_model.onnx
  std::shared_ptr<const Session> merged;     // decoder_model_merged.onnx
  int64_t num_heads = 0, head_dim = 0;       // sizes of empty past tensors when the graph leaves them open
};

// Throws BadModel naming the graph and input when a decoder graph wants an input kiln cannot feed.
void check_decoder_inputs(const Session& s, const std::string& file, bool encoder_decoder);

class CachedDecoder : public StepModel {
 public:
  // rows: one per input. Encoder-decoders pass the encoder's last_hidden_state [rows, S, H] and
  // attention mask [rows, S]; decoder-only models pass undefined tensors.
  CachedDecoder(DecoderGraphs graphs, int64_t rows, Tensor encoder_hidden, Tensor encoder_mask, bool use_cache = true);

  std::span<float> step(const std::vector<std::vector<int64_t>>& tokens) override;
  int64_t vocab_size() const override { return vocab_; }
  int64_t rows() const override { return rows_; }
  void select(const std::vector<int64_t>& rows) override;

 private:
  NamedTensors feeds_for(const Session& s, const std::vector<std::vector<int64_t>>& new_ids, bool use_cache_branch);
  void keep_presents(const Session& s, const NamedTensors& outs, bool first);

  DecoderGraphs g_;
  int64_t rows_;
  Tensor enc_hidden_, enc_mask_;
  bool use_cache_;
  int64_t past_len_ = 0, vocab_ = 0;
  NamedTensors cache_;  // by the name after the past_key_values. / present. prefix ("0.decoder.key")
  // The cache entries held time-major, [t, b, H, D] (a with-past graph's KvAppend presents, kept in
  // place step to step: SessionOptions::kv_cache_in_place); the others are [b, H, t, D].
  std::set<std::string> time_major_;
  // After beam reorders, where each row's steps are in the time-major caches (the graph's
  // cache_rows input): row r's step t is in batch row rows_table_[r * rows_width_ + t] for
  // t < rows_width_, in row r after. Empty: every row's steps are in its own row.
  std::vector<int64_t> rows_table_;
  int64_t rows_width_ = 0;
  bool takes_rows_ = false;  // the with-past graph takes cache_rows
  // Per row, the input it was made from (select() repeats inputs for their beams): rows with the
  // same source share what the encoder made.
  std::vector<int64_t> source_;
  std::vector<std::vector<int64_t>> ids_;  // every token fed so far, per row
  // What step() returns points into one of these: the graph's float logits when they are one
  // position per row (every cached step), else their last positions copied out. Reused from step to
  // step, so a step takes no fresh memory for its logits (at t5-small batch 8, 1 MB a step).
  Tensor logits_;
  std::vector<float> last_;
};

}  // namespace kiln::pipelines::generation
