// DistilBERT (transformers' DistilBertModel / DistilBertFor{SequenceClassification,
// TokenClassification, QuestionAnswering, MaskedLM}) as ONNX.
#include "export/encoder.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

using namespace encoder;

Config read_distilbert_config(const nlohmann::json& j) {
  Config c;
  c.vocab = j.value("vocab_size", (int64_t)30522);
  c.hidden = c.embedding = j.value("dim", (int64_t)768);
  c.heads = j.value("n_heads", (int64_t)12);
  c.intermediate = j.value("hidden_dim", (int64_t)3072);
  c.layers = j.value("n_layers", (int64_t)6);
  c.positions = j.value("max_position_embeddings", (int64_t)512);
  c.activation = j.value("activation", std::string("gelu"));
  c.eps = 1e-12f;  // fixed in DistilBERT's modules
  c.labels = num_labels(j);
  KILN_CHECK(c.heads > 0 && c.hidden % c.heads == 0, BadModel, "config.json: dim {} is not a multiple of n_heads {}",
             c.hidden, c.heads);
  KILN_CHECK(c.activation == "gelu" || c.activation == "relu", Unsupported,
             "config.json: DistilBERT activation '{}' is not supported (gelu, relu)", c.activation);
  KILN_CHECK(!j.value("sinusoidal_pos_embds", false), Unsupported,
             "config.json: sinusoidal_pos_embds is not supported yet");
  return c;
}

std::vector<ExportedGraph> build_distilbert(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Config c = read_distilbert_config(config);
  GraphBuilder b("main_graph", o.opset);
  auto bs = batch_seq();
  std::string ids = b.input("input_ids", DType::I64, bs);
  std::string mask = b.input("attention_mask", DType::I64, bs);
  const std::string p = base_prefix(w, "distilbert.", "embeddings.word_embeddings.weight", {c.vocab, c.hidden});
  std::string x = embeddings(b, w, p + "embeddings.", c, ids, TokenTypes::None, "", positions(b, ids));
  std::string bias = attention_bias(b, mask);
  for (int64_t l = 0; l < c.layers; ++l)
    x = layer(b, w, x, bias, fmt::format("{}transformer.layer.{}.", p, l), kDistilBertLayer, c);

  const std::string& task = o.task;
  if (task == "feature-extraction") {
    output_hidden_state(b, x, c.hidden);
  } else if (task == "text-classification") {
    std::string h = b.op("Relu", {linear(b, w, first_token(b, x), "pre_classifier", c.hidden, c.hidden)});
    output_sequence_logits(b, linear(b, w, h, "classifier", c.labels, c.hidden), c.labels);
  } else if (task == "token-classification") {
    output_token_logits(b, w, x, "classifier", c.labels, c.hidden);
  } else if (task == "question-answering") {
    output_span_logits(b, w, x, "qa_outputs", c.hidden);
  } else {  // fill-mask: vocab_transform, activation, vocab_layer_norm, vocab_projector
    std::string h = activation(b, linear(b, w, x, "vocab_transform", c.hidden, c.hidden), c.activation);
    h = layer_norm(b, w, h, "vocab_layer_norm", c.hidden, 1e-12f);
    bool tied = config.value("tie_word_embeddings", true);
    output_vocab_logits(b, w, h, tied ? p + "embeddings.word_embeddings.weight" : "vocab_projector.weight",
                        "vocab_projector.bias", c.vocab, c.hidden);
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool registered = register_architecture("distilbert", &build_distilbert, tasks());

}  // namespace
}  // namespace kiln::exporting
