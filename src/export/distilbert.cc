// DistilBERT (transformers' DistilBertModel / DistilBertForSequenceClassification) as ONNX.
#include <cmath>
#include <limits>

#include "export/export.h"
#include "export/graph_builder.h"

namespace kiln {
namespace {

struct DistilBertConfig {
  int64_t vocab, dim, heads, hidden, layers, positions, labels;
  std::string activation;
};

DistilBertConfig read_config(const nlohmann::json& c) {
  DistilBertConfig k;
  k.vocab = c.value("vocab_size", 30522);
  k.dim = c.value("dim", 768);
  k.heads = c.value("n_heads", 12);
  k.hidden = c.value("hidden_dim", 3072);
  k.layers = c.value("n_layers", 6);
  k.positions = c.value("max_position_embeddings", 512);
  k.activation = c.value("activation", std::string("gelu"));
  k.labels = c.contains("id2label") ? (int64_t)c["id2label"].size() : c.value("num_labels", 2);
  KILN_CHECK(k.dim % k.heads == 0, BadModel, "config.json: dim {} is not a multiple of n_heads {}", k.dim, k.heads);
  KILN_CHECK(k.activation == "gelu" || k.activation == "relu", Unsupported,
             "config.json: DistilBERT activation '{}' is not supported (gelu, relu)", k.activation);
  KILN_CHECK(!c.value("sinusoidal_pos_embds", false), Unsupported,
             "config.json: sinusoidal_pos_embds is not supported yet");
  return k;
}

std::vector<ExportedGraph> build_distilbert(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  DistilBertConfig c = read_config(config);
  std::string task = o.task == "auto" ? "text-classification" : o.task;
  KILN_CHECK(task == "text-classification" || task == "feature-extraction", Unsupported,
             "DistilBERT export supports text-classification and feature-extraction, not '{}'", task);
  const int64_t head_dim = c.dim / c.heads;
  const std::string p = "distilbert.";
  GraphBuilder b("main_graph", o.opset);
  std::vector<Dim> bs = {Dim{std::nullopt, "batch_size"}, Dim{std::nullopt, "sequence_length"}};
  std::string ids = b.input("input_ids", DType::I64, bs);
  std::string mask = b.input("attention_mask", DType::I64, bs);

  // Embeddings: word + position, LayerNorm.
  std::string word = b.initializer(p + "embeddings.word_embeddings.weight",
                                   w.get(p + "embeddings.word_embeddings.weight", {c.vocab, c.dim}));
  std::string pos_table = b.initializer(p + "embeddings.position_embeddings.weight",
                                        w.get(p + "embeddings.position_embeddings.weight", {c.positions, c.dim}));
  std::string shape = b.op("Shape", {ids});
  std::string seq = b.op("Gather", {shape, b.const_i64({1}, true)}, {{"axis", attr_int(0)}});
  std::string positions = b.op("Range", {b.const_i64({0}, true), seq, b.const_i64({1}, true)});
  std::string x = b.op("Add", {b.op("Gather", {word, ids}), b.op("Gather", {pos_table, positions})});
  x = b.layer_norm(x, w.get(p + "embeddings.LayerNorm.weight", {c.dim}), w.get(p + "embeddings.LayerNorm.bias", {c.dim}),
                   1e-12f, p + "embeddings.LayerNorm");

  // Masked positions get the float32 minimum, as masked_fill(mask == 0, finfo.min) does.
  std::string masked = b.op("Unsqueeze", {b.op("Equal", {mask, b.const_i64({0}, true)}), b.const_i64({1, 2})});
  std::string fill = b.const_f32(std::numeric_limits<float>::lowest());
  std::string heads_shape = b.const_i64({0, 0, c.heads, head_dim});
  std::string merge_shape = b.const_i64({0, 0, c.dim});
  std::string scale = b.const_f32(1.0f / std::sqrt((float)head_dim));

  for (int64_t l = 0; l < c.layers; ++l) {
    std::string L = fmt::format("{}transformer.layer.{}.", p, l);
    auto lin = [&](const std::string& in, const std::string& name, int64_t out_dim, int64_t in_dim) {
      Tensor wt = w.get(L + name + ".weight", {out_dim, in_dim});
      Tensor bias = w.get(L + name + ".bias", {out_dim});
      return b.linear(in, wt, &bias, L + name);
    };
    auto split_heads = [&](const std::string& t) {
      return b.op("Transpose", {b.op("Reshape", {t, heads_shape})}, {{"perm", attr_ints({0, 2, 1, 3})}});
    };
    std::string q = b.op("Mul", {split_heads(lin(x, "attention.q_lin", c.dim, c.dim)), scale});
    std::string k_t = b.op("Transpose", {b.op("Reshape", {lin(x, "attention.k_lin", c.dim, c.dim), heads_shape})},
                           {{"perm", attr_ints({0, 2, 3, 1})}});
    std::string v = split_heads(lin(x, "attention.v_lin", c.dim, c.dim));
    std::string scores = b.op("Where", {masked, fill, b.op("MatMul", {q, k_t})});
    std::string probs = b.op("Softmax", {scores}, {{"axis", attr_int(-1)}});
    std::string ctx = b.op("Transpose", {b.op("MatMul", {probs, v})}, {{"perm", attr_ints({0, 2, 1, 3})}});
    ctx = b.op("Reshape", {ctx, merge_shape});
    std::string attn = lin(ctx, "attention.out_lin", c.dim, c.dim);
    x = b.layer_norm(b.op("Add", {attn, x}), w.get(L + "sa_layer_norm.weight", {c.dim}),
                     w.get(L + "sa_layer_norm.bias", {c.dim}), 1e-12f, L + "sa_layer_norm");
    std::string h = lin(x, "ffn.lin1", c.hidden, c.dim);
    h = c.activation == "gelu" ? b.gelu(h) : b.op("Relu", {h});
    h = lin(h, "ffn.lin2", c.dim, c.hidden);
    x = b.layer_norm(b.op("Add", {h, x}), w.get(L + "output_layer_norm.weight", {c.dim}),
                     w.get(L + "output_layer_norm.bias", {c.dim}), 1e-12f, L + "output_layer_norm");
  }

  if (task == "feature-extraction") {
    b.output(x, "last_hidden_state", DType::F32, {bs[0], bs[1], Dim{c.dim, ""}});
  } else {
    std::string cls = b.op("Gather", {x, b.const_i64({0}, true)}, {{"axis", attr_int(1)}});
    Tensor pw = w.get("pre_classifier.weight", {c.dim, c.dim}), pb = w.get("pre_classifier.bias", {c.dim});
    std::string h = b.op("Relu", {b.linear(cls, pw, &pb, "pre_classifier")});
    Tensor cw = w.get("classifier.weight", {c.labels, c.dim}), cb = w.get("classifier.bias", {c.labels});
    b.output(b.linear(h, cw, &cb, "classifier"), "logits", DType::F32, {bs[0], Dim{c.labels, ""}});
  }
  std::vector<ExportedGraph> out;
  out.push_back({"model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool registered = register_architecture("distilbert", &build_distilbert);

}  // namespace
}  // namespace kiln
