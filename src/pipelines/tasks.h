// The task pipelines behind kiln::pipeline(), with typed results. One .cc per task.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipelines/generation/decoder.h"
#include "pipelines/model_dir.h"
#include "pipelines/pipeline.h"
#include "tokenizers/tokenizer.h"

namespace kiln::pipelines {

// Shared by the encoder-only tasks: tokenizes (or takes ids), pads a batch, feeds the graph.
class EncoderTask : public JsonPipeline {
 protected:
  EncoderTask(std::string task, std::unique_ptr<ModelDir> dir, PipelineOptions options, const std::string& stem = "model");
  // Encodes one input (special tokens added, truncated when options ask for it).
  Encoding encode(const PipelineInput& in) const;
  // Encodes every input the same way; texts without a pair go through the tokenizer's batch
  // encode (in parallel) together.
  std::vector<Encoding> encode_all(const std::vector<PipelineInput>& inputs) const;
  // Runs the graph on encodings (padded to the longest, right side, straight into the graph's
  // input tensors) and returns its outputs.
  NamedTensors forward(std::span<const Encoding> batch) const;
  // Runs inputs in chunks of batch_size, calling per_chunk(encodings, outputs, first index).
  template <typename F>
  void for_chunks(const std::vector<Encoding>& all, F&& per_chunk) const {
    const size_t bs = std::max<size_t>(1, options_.batch_size);
    for (size_t i = 0; i < all.size(); i += bs) {
      std::span<const Encoding> chunk(all.data() + i, std::min(all.size(), i + bs) - i);
      per_chunk(chunk, forward(chunk), i);
    }
  }
  // The named output, or throws BadModel saying what the task expected.
  const Tensor& output(const NamedTensors& outs, const std::string& name, int rank) const;
  int64_t pad_id() const;

 public:
  const Tokenizer* tokenizer() const override;

 protected:
  std::unique_ptr<ModelDir> dir_;
  PipelineOptions options_;
  std::shared_ptr<const Session> session_;
  std::string graph_path_;
};

class TextClassificationPipeline : public EncoderTask {
 public:
  TextClassificationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  // Per input: every label with its score, best first.
  std::vector<std::vector<LabelScore>> classify(const std::vector<PipelineInput>& inputs) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
};

class TokenClassificationPipeline : public EncoderTask {
 public:
  TokenClassificationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  std::vector<std::vector<TokenEntity>> tag(const std::vector<PipelineInput>& inputs) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
};

class QuestionAnsweringPipeline : public EncoderTask {
 public:
  QuestionAnsweringPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  // text = question, text_pair = context.
  std::vector<Answer> answer(const std::vector<PipelineInput>& inputs) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
};

class FeatureExtractionPipeline : public EncoderTask {
 public:
  FeatureExtractionPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  // Per input: one vector per token (pooling none) or one pooled vector.
  std::vector<std::vector<std::vector<float>>> embed(const std::vector<PipelineInput>& inputs) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
};

class FillMaskPipeline : public EncoderTask {
 public:
  FillMaskPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  // Per input, per mask position: the top_k candidates.
  std::vector<std::vector<std::vector<MaskFill>>> fill(const std::vector<PipelineInput>& inputs) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
};

// text2text-generation, summarization, translation: encoder_model + decoder graphs.
class Text2TextPipeline : public JsonPipeline {
 public:
  Text2TextPipeline(std::string task, std::unique_ptr<ModelDir> dir, PipelineOptions options);
  std::vector<Generation> generate(const std::vector<PipelineInput>& inputs) override;
  std::vector<Generation> generate(const std::vector<PipelineInput>& inputs, const GenerationOptions& overrides) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
  const GenerationConfig* generation_config() const override { return &gen_; }
  const Tokenizer* tokenizer() const override;

 private:
  std::unique_ptr<ModelDir> dir_;
  PipelineOptions options_;
  generation::GenerationConfig gen_;
  std::shared_ptr<const Session> encoder_;
  generation::DecoderGraphs decoder_;
};

// text-generation: decoder-only models (GPT-2 style) with their past.
class TextGenerationPipeline : public JsonPipeline {
 public:
  TextGenerationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options);
  std::vector<Generation> generate(const std::vector<PipelineInput>& inputs) override;
  std::vector<Generation> generate(const std::vector<PipelineInput>& inputs, const GenerationOptions& overrides) override;
  std::vector<nlohmann::json> run(const std::vector<PipelineInput>& inputs) override;
  const GenerationConfig* generation_config() const override { return &gen_; }
  const Tokenizer* tokenizer() const override;

 private:
  std::unique_ptr<ModelDir> dir_;
  PipelineOptions options_;
  generation::GenerationConfig gen_;
  generation::DecoderGraphs decoder_;
};

// Helpers the tasks share.
nlohmann::json generation_to_json(const Generation& g);
// Byte offset in UTF-8 text -> character (code point) offset, as Python string indices count.
int64_t char_offset(const std::string& text, size_t byte_offset);

}  // namespace kiln::pipelines
