// RoBERTa and the models that are RoBERTa with another vocabulary (XLM-RoBERTa, CamemBERT):
// no token_type_ids input (Optimum drops it), positions counted from padding_idx + 1 over the
// non-pad tokens, RobertaClassificationHead and RobertaLMHead.
#include "export/encoder.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

using namespace encoder;

std::vector<ExportedGraph> build_roberta(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Config defaults;
  defaults.pad_id = 1;
  defaults.type_vocab = 1;
  Config c = read_config(config, config.value("model_type", std::string("roberta")), defaults);
  GraphBuilder b("main_graph", o.opset);
  auto bs = batch_seq();
  std::string ids = b.input("input_ids", DType::I64, bs);
  std::string mask = b.input("attention_mask", DType::I64, bs);
  const std::string p = base_prefix(w, "roberta.", "embeddings.word_embeddings.weight", {c.vocab, c.hidden});
  std::string x = embeddings(b, w, p + "embeddings.", c, ids, TokenTypes::FirstRow, "",
                             roberta_positions(b, ids, c.pad_id));
  std::string bias = attention_bias(b, mask);
  for (int64_t l = 0; l < c.layers; ++l)
    x = layer(b, w, x, bias, fmt::format("{}encoder.layer.{}.", p, l), kBertLayer, c);

  const std::string& task = o.task;
  if (task == "feature-extraction") {
    output_hidden_state(b, x, c.hidden);
  } else if (task == "text-classification") {  // RobertaClassificationHead on <s>
    std::string h = b.op("Tanh", {linear(b, w, first_token(b, x), "classifier.dense", c.hidden, c.hidden)});
    output_sequence_logits(b, linear(b, w, h, "classifier.out_proj", c.labels, c.hidden), c.labels);
  } else if (task == "token-classification") {
    output_token_logits(b, w, x, "classifier", c.labels, c.hidden);
  } else if (task == "question-answering") {
    output_span_logits(b, w, x, "qa_outputs", c.hidden);
  } else {  // fill-mask: RobertaLMHead (exact gelu whatever hidden_act says)
    std::string h = b.gelu(linear(b, w, x, "lm_head.dense", c.hidden, c.hidden));
    h = layer_norm(b, w, h, "lm_head.layer_norm", c.hidden, c.eps);
    bool tied = config.value("tie_word_embeddings", true);
    output_vocab_logits(b, w, h, tied ? p + "embeddings.word_embeddings.weight" : "lm_head.decoder.weight",
                        "lm_head.bias", c.vocab, c.hidden);
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool roberta_registered = register_architecture("roberta", &build_roberta, tasks());
[[maybe_unused]] const bool xlmr_registered = register_architecture("xlm-roberta", &build_roberta, tasks());
[[maybe_unused]] const bool camembert_registered = register_architecture("camembert", &build_roberta, tasks());

}  // namespace
}  // namespace kiln::exporting
