// BERT (BertModel / BertFor{SequenceClassification, TokenClassification, QuestionAnswering,
// MaskedLM}) and ELECTRA (the same encoder behind a factorised embedding, with its own heads).
#include "export/encoder.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

using namespace encoder;

struct Inputs {
  std::string ids, mask, types;
};

Inputs bert_inputs(GraphBuilder& b) {
  auto bs = batch_seq();
  return {b.input("input_ids", DType::I64, bs), b.input("attention_mask", DType::I64, bs),
          b.input("token_type_ids", DType::I64, bs)};
}

std::vector<ExportedGraph> build_bert(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Config c = read_config(config, "BERT");
  GraphBuilder b("main_graph", o.opset);
  Inputs in = bert_inputs(b);
  const std::string p = base_prefix(w, "bert.", "embeddings.word_embeddings.weight", {c.vocab, c.hidden});
  std::string x = embeddings(b, w, p + "embeddings.", c, in.ids, TokenTypes::Input, in.types, positions(b, in.ids));
  std::string bias = attention_bias(b, in.mask);
  for (int64_t l = 0; l < c.layers; ++l)
    x = layer(b, w, x, bias, fmt::format("{}encoder.layer.{}.", p, l), kBertLayer, c);

  const std::string& task = o.task;
  if (task == "feature-extraction") {
    output_hidden_state(b, x, c.hidden);
  } else if (task == "text-classification") {
    std::string pooled = b.op("Tanh", {linear(b, w, first_token(b, x), p + "pooler.dense", c.hidden, c.hidden)});
    output_sequence_logits(b, linear(b, w, pooled, "classifier", c.labels, c.hidden), c.labels);
  } else if (task == "token-classification") {
    output_token_logits(b, w, x, "classifier", c.labels, c.hidden);
  } else if (task == "question-answering") {
    output_span_logits(b, w, x, "qa_outputs", c.hidden);
  } else {  // fill-mask: BertOnlyMLMHead
    std::string h = linear(b, w, x, "cls.predictions.transform.dense", c.hidden, c.hidden);
    h = activation(b, h, c.activation);
    h = layer_norm(b, w, h, "cls.predictions.transform.LayerNorm", c.hidden, c.eps);
    bool tied = config.value("tie_word_embeddings", true);
    output_vocab_logits(b, w, h, tied ? p + "embeddings.word_embeddings.weight" : "cls.predictions.decoder.weight",
                        "cls.predictions.bias", c.vocab, c.hidden);
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

std::vector<ExportedGraph> build_electra(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Config defaults;
  defaults.embedding = 128;  // ElectraConfig's default
  Config c = read_config(config, "ELECTRA", defaults);
  GraphBuilder b("main_graph", o.opset);
  Inputs in = bert_inputs(b);
  const std::string p = base_prefix(w, "electra.", "embeddings.word_embeddings.weight", {c.vocab, c.embedding});
  std::string x = embeddings(b, w, p + "embeddings.", c, in.ids, TokenTypes::Input, in.types, positions(b, in.ids));
  if (c.embedding != c.hidden) x = linear(b, w, x, p + "embeddings_project", c.hidden, c.embedding);
  std::string bias = attention_bias(b, in.mask);
  for (int64_t l = 0; l < c.layers; ++l)
    x = layer(b, w, x, bias, fmt::format("{}encoder.layer.{}.", p, l), kBertLayer, c);

  const std::string& task = o.task;
  if (task == "feature-extraction") {
    output_hidden_state(b, x, c.hidden);
  } else if (task == "text-classification") {  // ElectraClassificationHead: gelu, not BERT's tanh
    std::string h = b.gelu(linear(b, w, first_token(b, x), "classifier.dense", c.hidden, c.hidden));
    output_sequence_logits(b, linear(b, w, h, "classifier.out_proj", c.labels, c.hidden), c.labels);
  } else if (task == "token-classification") {
    output_token_logits(b, w, x, "classifier", c.labels, c.hidden);
  } else if (task == "question-answering") {
    output_span_logits(b, w, x, "qa_outputs", c.hidden);
  } else {  // fill-mask: ElectraGeneratorPredictions + generator_lm_head
    std::string h = b.gelu(linear(b, w, x, "generator_predictions.dense", c.embedding, c.hidden));
    h = layer_norm(b, w, h, "generator_predictions.LayerNorm", c.embedding, c.eps);
    bool tied = config.value("tie_word_embeddings", true);
    output_vocab_logits(b, w, h, tied ? p + "embeddings.word_embeddings.weight" : "generator_lm_head.weight",
                        "generator_lm_head.bias", c.vocab, c.embedding);
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool bert_registered = register_architecture("bert", &build_bert, tasks());
[[maybe_unused]] const bool electra_registered = register_architecture("electra", &build_electra, tasks());

}  // namespace
}  // namespace kiln::exporting
