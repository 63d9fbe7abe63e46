// text2text-generation, summarization, translation: encode once with encoder_model, then decode
// with the KV cache (decoder_model + decoder_with_past_model, or decoder_model_merged).
#include <algorithm>

#include "core/error.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {

Text2TextPipeline::Text2TextPipeline(std::string task, std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : JsonPipeline(std::move(task)), dir_(std::move(dir)), options_(std::move(options)) {
  if (!dir_->find_graph("encoder_model") && (dir_->find_graph("model") || dir_->find_graph("decoder_model")))
    throw BadModel(fmt::format("{} has no encoder_model.onnx (it holds: {}); task {} needs an encoder-decoder folder "
                               "(encoder_model.onnx + decoder_model.onnx [+ decoder_with_past_model.onnx]){}",
                               dir_->dir(), dir_->graphs_listing(), task_,
                               dir_->find_graph("decoder_model") ? "; for a decoder-only model use --task text-generation"
                                                                 : ""));
  encoder_ = dir_->open(dir_->require_graph("encoder_model", task_));
  for (const auto& v : encoder_->inputs())
    KILN_CHECK(v.name == "input_ids" || v.name == "attention_mask", BadModel,
               "encoder_model.onnx: input '{}' does not fit task {}; expected input_ids, attention_mask", v.name, task_);
  auto merged = dir_->find_graph("decoder_model_merged");
  auto plain = dir_->find_graph("decoder_model");
  auto past = dir_->find_graph("decoder_with_past_model");
  if (!merged && !plain) dir_->require_graph("decoder_model", task_);  // throws, naming what is there
  // Optimum writes all three graphs, or (newer versions) only the merged one. The two-graph layout
  // runs when it is there; a merged graph alone runs as the same two sessions, each with
  // use_cache_branch fixed (ModelDir::open_merged_decoder), so its caches grow in place too.
  if (merged && !(plain && past)) {
    if (auto pair = dir_->open_merged_decoder(*merged)) {
      decoder_.no_past = pair->no_past;
      decoder_.with_past = pair->with_past;
    } else {
      decoder_.merged = dir_->open(*merged);
    }
  } else {
    decoder_.no_past = dir_->open(*plain);
    if (past) decoder_.with_past = dir_->open(*past, /*kv_cache_in_place=*/true);
  }
  for (auto* s : {&decoder_.merged, &decoder_.no_past, &decoder_.with_past})
    if (*s) generation::check_decoder_inputs(**s, "decoder graph", true);
  const ModelConfig& cfg = dir_->config();
  decoder_.num_heads = cfg.decoder_heads;
  decoder_.head_dim = cfg.head_dim;
  dir_->config().apply_task_params(task_);
  gen_ = dir_->config().generation;
  options_.generation.apply_to(gen_);
  if (!gen_.decoder_start_token_id) gen_.decoder_start_token_id = gen_.bos_token_id;
  // Marian's adjust_logits_during_generation: the pad token is never generated.
  if (dir_->config().model_type == "marian" && gen_.pad_token_id) gen_.banned_raw_token_ids.push_back(*gen_.pad_token_id);
  KILN_CHECK(gen_.decoder_start_token_id.has_value(), BadModel,
             "{}/config.json gives no decoder_start_token_id (nor bos_token_id); add it", dir_->dir());
}

std::vector<Generation> Text2TextPipeline::generate(const std::vector<PipelineInput>& inputs) {
  return generate(inputs, GenerationOptions{});
}

std::vector<Generation> Text2TextPipeline::generate(const std::vector<PipelineInput>& inputs,
                                                 const GenerationOptions& overrides) {
  generation::GenerationConfig config = gen_;  // this call's settings: the pipeline's, then the overrides
  overrides.apply_to(config);
  std::vector<std::vector<int64_t>> ids;
  for (const auto& in : inputs) {
    if (in.ids) {
      ids.push_back(*in.ids);
    } else {
      const Tokenizer& tok = dir_->tokenizer();
      Encoding e = tok.encode(dir_->config().prefix + in.text);
      if (options_.truncation) {
        TruncationOptions t;
        t.max_length = options_.max_length ? *options_.max_length : tok.model_max_length().value_or(512);
        tok.truncate(e, t, false);
      }
      ids.push_back(std::move(e.ids));
    }
    KILN_CHECK(!ids.back().empty(), BadInput, "input {} has no tokens; the encoder needs at least one", ids.size());
  }
  const int64_t pad = config.pad_token_id.value_or(0);
  std::vector<Generation> out(inputs.size());
  const size_t bs = std::max<size_t>(1, options_.batch_size);
  for (size_t first = 0; first < ids.size(); first += bs) {
    const size_t n = std::min(bs, ids.size() - first);
    PaddedBatch padded = pad_batch(ids, first, n, pad);
    NamedTensors feeds;
    for (const auto& v : encoder_->inputs()) feeds[v.name] = v.name == "input_ids" ? padded.ids : padded.mask;
    NamedTensors outs = encoder_->run(feeds);
    if (options_.on_encoded) options_.on_encoded();
    auto it = outs.find("last_hidden_state");
    Tensor hidden = it != outs.end() ? it->second : outs.begin()->second;
    generation::CachedDecoder dec(decoder_, (int64_t)n, hidden, padded.mask, config.use_cache);
    std::vector<std::vector<int64_t>> start(n, std::vector<int64_t>{*config.decoder_start_token_id});
    generation::TokenCallback cb;
    if (options_.on_token)
      cb = [&](size_t input, size_t seq, int64_t tok) { options_.on_token(first + input, seq, tok); };
    generation::GenerateResult r = generation::generate(dec, start, config, cb);
    for (size_t i = 0; i < n; ++i) {
      Generation& g = out[first + i];
      g.sequences = std::move(r.sequences[i]);
      g.scores = std::move(r.scores[i]);
    }
  }
  if (dir_->has_tokenizer())
    for (auto& g : out)
      for (const auto& s : g.sequences) g.texts.push_back(dir_->tokenizer().decode(s, true));
  return out;
}

std::vector<nlohmann::json> Text2TextPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (const auto& g : generate(inputs)) res.push_back(generation_to_json(g));
  return res;
}

}  // namespace kiln::pipelines
