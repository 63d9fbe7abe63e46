// ALBERT: a factorised embedding (embedding_size, projected to hidden_size) and layer groups whose
// weights every layer of the group shares; the shared weights are stored once.
#include "export/encoder.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

using namespace encoder;

std::vector<ExportedGraph> build_albert(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Config defaults;
  defaults.embedding = 128;  // AlbertConfig's defaults
  defaults.activation = "gelu_new";
  Config c = read_config(config, "ALBERT", defaults);
  const int64_t groups = config.value("num_hidden_groups", (int64_t)1);
  const int64_t inner = config.value("inner_group_num", (int64_t)1);
  KILN_CHECK(groups >= 1 && groups <= c.layers && inner >= 1, BadModel,
             "config.json: ALBERT num_hidden_groups {} and inner_group_num {} do not fit num_hidden_layers {}", groups,
             inner, c.layers);
  GraphBuilder b("main_graph", o.opset);
  auto bs = batch_seq();
  std::string ids = b.input("input_ids", DType::I64, bs);
  std::string mask = b.input("attention_mask", DType::I64, bs);
  std::string types = b.input("token_type_ids", DType::I64, bs);
  const std::string p = base_prefix(w, "albert.", "embeddings.word_embeddings.weight", {c.vocab, c.embedding});
  std::string x = embeddings(b, w, p + "embeddings.", c, ids, TokenTypes::Input, types, positions(b, ids));
  x = linear(b, w, x, p + "encoder.embedding_hidden_mapping_in", c.hidden, c.embedding);
  std::string bias = attention_bias(b, mask);
  for (int64_t l = 0; l < c.layers; ++l) {
    // AlbertTransformer: layer l runs group int(l / (layers / groups)).
    int64_t g = (int64_t)((double)l / ((double)c.layers / (double)groups));
    for (int64_t i = 0; i < inner; ++i)
      x = layer(b, w, x, bias, fmt::format("{}encoder.albert_layer_groups.{}.albert_layers.{}.", p, g, i),
                kAlbertLayer, c);
  }

  const std::string& task = o.task;
  if (task == "feature-extraction") {
    output_hidden_state(b, x, c.hidden);
  } else if (task == "text-classification") {
    std::string pooled = b.op("Tanh", {linear(b, w, first_token(b, x), p + "pooler", c.hidden, c.hidden)});
    output_sequence_logits(b, linear(b, w, pooled, "classifier", c.labels, c.hidden), c.labels);
  } else if (task == "token-classification") {
    output_token_logits(b, w, x, "classifier", c.labels, c.hidden);
  } else if (task == "question-answering") {
    output_span_logits(b, w, x, "qa_outputs", c.hidden);
  } else {  // fill-mask: AlbertMLMHead
    std::string h = activation(b, linear(b, w, x, "predictions.dense", c.embedding, c.hidden), c.activation);
    h = layer_norm(b, w, h, "predictions.LayerNorm", c.embedding, c.eps);
    bool tied = config.value("tie_word_embeddings", true);
    output_vocab_logits(b, w, h, tied ? p + "embeddings.word_embeddings.weight" : "predictions.decoder.weight",
                        "predictions.bias", c.vocab, c.embedding);
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool registered = register_architecture("albert", &build_albert, tasks());

}  // namespace
}  // namespace kiln::exporting
