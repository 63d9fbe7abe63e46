// EncoderTask: tokenizing, padding and feeding encoder-only graphs (BERT, DistilBERT, RoBERTa ...).
#include <algorithm>

#include "core/error.h"
#include "pipelines/tasks.h"

namespace kiln::pipelines {

EncoderTask::EncoderTask(std::string task, std::unique_ptr<ModelDir> dir, PipelineOptions options, const std::string& stem)
    : JsonPipeline(std::move(task)), dir_(std::move(dir)), options_(std::move(options)) {
  if (!dir_->find_graph(stem)) {
    if (dir_->find_graph("encoder_model"))
      throw BadModel(fmt::format("{} holds an encoder-decoder model (encoder_model.onnx), not the single {}.onnx task {} "
                                 "needs; use --task text2text-generation",
                                 dir_->dir(), stem, task_));
    if (dir_->find_graph("decoder_model") || dir_->find_graph("decoder_model_merged"))
      throw BadModel(fmt::format("{} holds a decoder-only model (decoder_model.onnx), not the single {}.onnx task {} "
                                 "needs; use --task text-generation",
                                 dir_->dir(), stem, task_));
  }
  graph_path_ = dir_->require_graph(stem, task_);
  session_ = dir_->open(graph_path_);
  for (const auto& v : session_->inputs()) {
    const std::string& n = v.name;
    if (n == "input_ids" || n == "attention_mask" || n == "token_type_ids" || n == "position_ids") continue;
    throw BadModel(fmt::format("{}: input '{}' does not fit task {}: it feeds input_ids, attention_mask, token_type_ids "
                               "(and position_ids){}",
                               graph_path_, n, task_,
                               n.find("past") != std::string::npos || n.find("encoder_") != std::string::npos
                                   ? "; this looks like a decoder: use --task text-generation or text2text-generation"
                                   : ""));
  }
}

Encoding EncoderTask::encode(const PipelineInput& in) const {
  Encoding e;
  if (in.ids) {
    e.ids = *in.ids;
    e.attention_mask.assign(e.ids.size(), 1);
    e.type_ids.assign(e.ids.size(), 0);
    e.special_tokens_mask.assign(e.ids.size(), 0);
    e.sequence_ids.assign(e.ids.size(), 0);
    e.offsets.assign(e.ids.size(), {0, 0});
    if (options_.truncation && options_.max_length && e.ids.size() > *options_.max_length) {
      for (auto* v : {&e.ids, &e.attention_mask, &e.type_ids, &e.special_tokens_mask}) v->resize(*options_.max_length);
      e.sequence_ids.resize(*options_.max_length);
      e.offsets.resize(*options_.max_length);
    }
    return e;
  }
  const Tokenizer& tok = dir_->tokenizer();
  e = in.text_pair ? tok.encode_pair(in.text, *in.text_pair) : tok.encode(in.text);
  if (options_.truncation) {
    TruncationOptions t;
    t.max_length = options_.max_length ? *options_.max_length : tok.model_max_length().value_or(512);
    tok.truncate(e, t, in.text_pair.has_value());
  }
  return e;
}

std::vector<Encoding> EncoderTask::encode_all(const std::vector<PipelineInput>& inputs) const {
  const bool plain_texts = std::all_of(inputs.begin(), inputs.end(),
                                       [](const PipelineInput& in) { return !in.ids && !in.text_pair; });
  if (!plain_texts || inputs.size() < 2) {
    std::vector<Encoding> out;
    out.reserve(inputs.size());
    for (const auto& in : inputs) out.push_back(encode(in));
    return out;
  }
  const Tokenizer& tok = dir_->tokenizer();
  std::vector<std::string> texts;
  texts.reserve(inputs.size());
  for (const auto& in : inputs) texts.push_back(in.text);
  std::optional<TruncationOptions> t;
  if (options_.truncation) {
    t.emplace();
    t->max_length = options_.max_length ? *options_.max_length : tok.model_max_length().value_or(512);
  }
  return tok.encode_batch(texts, true, t, std::nullopt);
}

int64_t EncoderTask::pad_id() const {
  if (dir_->has_tokenizer())
    if (auto p = dir_->tokenizer().pad_token_id()) return *p;
  return dir_->config().generation.pad_token_id.value_or(0);
}

NamedTensors EncoderTask::forward(std::span<const Encoding> batch) const {
  size_t len = 0;
  for (const auto& e : batch) len = std::max(len, e.ids.size());
  KILN_CHECK(len > 0, BadInput, "an input has no tokens; give some text or ids");
  const int64_t pad = pad_id();
  // Each input the graph takes, written straight from the encodings into its [batch, len] tensor.
  auto fill = [&](const std::string& name, int64_t* row, const Encoding& e) {
    const size_t n = e.ids.size();
    auto put = [&](const std::vector<int64_t>& v, int64_t missing, int64_t padding) {
      if (v.size() == n) std::copy(v.begin(), v.end(), row);
      else std::fill(row, row + n, missing);
      std::fill(row + n, row + len, padding);
    };
    if (name == "input_ids") put(e.ids, pad, pad);
    else if (name == "attention_mask") put(e.attention_mask, 1, 0);
    else if (name == "token_type_ids") put(e.type_ids, 0, 0);
    else
      for (size_t k = 0; k < len; ++k) row[k] = (int64_t)k;  // position_ids
  };
  NamedTensors feeds;
  for (const auto& v : session_->inputs()) {
    Tensor t(DType::I64, {(int64_t)batch.size(), (int64_t)len});
    for (size_t b = 0; b < batch.size(); ++b) fill(v.name, t.data<int64_t>() + b * len, batch[b]);
    if (v.dtype != DType::Undefined && v.dtype != DType::I64) t = t.cast(v.dtype);
    feeds[v.name] = std::move(t);
  }
  return session_->run(feeds);
}

const Tensor& EncoderTask::output(const NamedTensors& outs, const std::string& name, int rank) const {
  auto it = outs.find(name);
  if (it == outs.end() && outs.size() == 1) it = outs.begin();
  if (it == outs.end()) {
    std::string have;
    for (const auto& [n, _] : outs) have += (have.empty() ? "" : ", ") + n;
    throw BadModel(fmt::format("{} has no output '{}' (it has: {}); task {} needs it{}", graph_path_, name, have, task_,
                               outs.count("last_hidden_state") ? " (this is a base model without a task head: "
                                                                 "use --task feature-extraction)"
                                                               : ""));
  }
  KILN_CHECK(it->second.rank() == rank, BadModel, "{}: output '{}' has shape {}, task {} expects rank {}", graph_path_,
             it->first, shape_str(it->second.shape()), task_, rank);
  return it->second;
}

int64_t char_offset(const std::string& text, size_t byte_offset) {
  int64_t n = 0;
  for (size_t i = 0; i < byte_offset && i < text.size(); ++i)
    if (((unsigned char)text[i] & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace kiln::pipelines
