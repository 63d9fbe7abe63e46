// text-generation: decoder-only models (GPT-2 style). The prompt runs through decoder_model, later
// tokens through decoder_with_past_model (or decoder_model_merged's cache branch). Graphs without
// position_ids cannot take left padding, so a batch runs as groups of equal prompt length.
#include <algorithm>
#include <map>

#include "core/error.h"
#include "pipelines/tasks.h"

namespace kiln::pipelines {

namespace {
bool has_past_input(const Session& s) {
  for (const auto& v : s.inputs())
    if (v.name.find("past") != std::string::npos) return true;
  return false;
}
}  // namespace

TextGenerationPipeline::TextGenerationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : JsonPipeline("text-generation"), dir_(std::move(dir)), options_(std::move(options)) {
  if (dir_->find_graph("encoder_model"))
    throw BadModel(fmt::format("{} holds an encoder-decoder model (encoder_model.onnx); use --task text2text-generation",
                               dir_->dir()));
  auto merged = dir_->find_graph("decoder_model_merged");
  auto plain = dir_->find_graph("decoder_model");
  auto past = dir_->find_graph("decoder_with_past_model");
  auto single = dir_->find_graph("model");
  if (merged && !(plain && past)) {  // the two-graph layout first, else the merged graph as two (text2text.cc)
    if (auto pair = dir_->open_merged_decoder(*merged)) {
      decoder_.no_past = pair->no_past;
      decoder_.with_past = pair->with_past;
    } else {
      decoder_.merged = dir_->open(*merged);
    }
  } else if (plain) {
    decoder_.no_past = dir_->open(*plain);
    if (past) decoder_.with_past = dir_->open(*past, /*kv_cache_in_place=*/true);
  } else if (single) {
    auto s = dir_->open(*single);
    (has_past_input(*s) ? decoder_.with_past : decoder_.no_past) = s;
  } else {
    dir_->require_graph("decoder_model", task_);  // throws, naming what is there
  }
  for (auto* s : {&decoder_.merged, &decoder_.no_past, &decoder_.with_past})
    if (*s) generation::check_decoder_inputs(**s, "decoder graph", false);
  if (decoder_.no_past) {  // a classifier's model.onnx has no logits over the vocabulary
    bool has_logits = false;
    for (const auto& v : decoder_.no_past->outputs()) has_logits |= v.name == "logits";
    KILN_CHECK(has_logits, BadModel, "{}: the decoder graph has no 'logits' output; task text-generation needs one",
               dir_->dir());
  }
  const ModelConfig& cfg = dir_->config();
  decoder_.num_heads = cfg.decoder_heads;
  decoder_.head_dim = cfg.head_dim;
  gen_ = cfg.generation;
  options_.generation.apply_to(gen_);
}

std::vector<Generation> TextGenerationPipeline::generate(const std::vector<PipelineInput>& inputs) {
  return generate(inputs, GenerationOptions{});
}

std::vector<Generation> TextGenerationPipeline::generate(const std::vector<PipelineInput>& inputs,
                                                      const GenerationOptions& overrides) {
  generation::GenerationConfig config = gen_;  // this call's settings: the pipeline's, then the overrides
  overrides.apply_to(config);
  std::vector<std::vector<int64_t>> ids;
  for (const auto& in : inputs) {
    if (in.ids) ids.push_back(*in.ids);
    else ids.push_back(dir_->tokenizer().encode(in.text).ids);
    if (ids.back().empty()) {
      KILN_CHECK(config.bos_token_id.has_value(), BadInput,
                 "input {} has no tokens and the model has no bos_token_id to start from", ids.size());
      ids.back() = {*config.bos_token_id};
    }
  }
  std::vector<Generation> out(inputs.size());
  const size_t bs = std::max<size_t>(1, options_.batch_size);
  for (size_t first = 0; first < ids.size(); first += bs) {
    const size_t n = std::min(bs, ids.size() - first);
    std::map<size_t, std::vector<size_t>> by_len;  // prompt length -> input indices
    for (size_t i = first; i < first + n; ++i) by_len[ids[i].size()].push_back(i);
    for (const auto& [len, members] : by_len) {
      std::vector<std::vector<int64_t>> start;
      for (size_t i : members) start.push_back(ids[i]);
      generation::CachedDecoder dec(decoder_, (int64_t)members.size(), Tensor(), Tensor(), config.use_cache);
      generation::TokenCallback cb;
      if (options_.on_token)
        // A reference, not the binding itself: clang before 16 cannot capture structured bindings.
        cb = [&, &group = members](size_t input, size_t seq, int64_t tok) { options_.on_token(group[input], seq, tok); };
      generation::GenerateResult r = generation::generate(dec, start, config, cb);
      for (size_t k = 0; k < members.size(); ++k) {
        out[members[k]].sequences = std::move(r.sequences[k]);
        out[members[k]].scores = std::move(r.scores[k]);
      }
    }
  }
  if (dir_->has_tokenizer())
    for (auto& g : out)
      for (const auto& s : g.sequences) g.texts.push_back(dir_->tokenizer().decode(s, true));
  return out;
}

std::vector<nlohmann::json> TextGenerationPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (const auto& g : generate(inputs)) res.push_back(generation_to_json(g));
  return res;
}

}  // namespace kiln::pipelines
