#include "export/encoder.h"

#include <cmath>
#include <limits>

namespace kiln::exporting::encoder {

const std::vector<std::string>& tasks() {
  static const std::vector<std::string> t = {"feature-extraction", "text-classification", "token-classification",
                                             "question-answering", "fill-mask"};
  return t;
}

int64_t num_labels(const nlohmann::json& c) {
  if (c.contains("id2label") && c["id2label"].is_object()) return (int64_t)c["id2label"].size();
  return c.value("num_labels", (int64_t)2);
}

Config read_config(const nlohmann::json& c, const std::string& what, Config defaults) {
  Config k = defaults;
  k.vocab = c.value("vocab_size", k.vocab);
  k.hidden = c.value("hidden_size", k.hidden);
  k.embedding = c.value("embedding_size", defaults.embedding ? defaults.embedding : k.hidden);
  k.heads = c.value("num_attention_heads", k.heads);
  k.intermediate = c.value("intermediate_size", k.intermediate);
  k.layers = c.value("num_hidden_layers", k.layers);
  k.positions = c.value("max_position_embeddings", k.positions);
  k.type_vocab = c.value("type_vocab_size", k.type_vocab);
  if (c.contains("pad_token_id") && c["pad_token_id"].is_number_integer()) k.pad_id = c["pad_token_id"].get<int64_t>();
  k.activation = c.value("hidden_act", k.activation);
  k.eps = c.value("layer_norm_eps", k.eps);
  k.labels = num_labels(c);
  KILN_CHECK(k.heads > 0 && k.hidden % k.heads == 0, BadModel,
             "config.json: hidden_size {} is not a multiple of num_attention_heads {}", k.hidden, k.heads);
  KILN_CHECK(k.activation == "gelu" || k.activation == "gelu_new" || k.activation == "gelu_pytorch_tanh" ||
                 k.activation == "relu",
             Unsupported, "config.json: {} hidden_act '{}' is not supported (gelu, gelu_new, relu)", what,
             k.activation);
  std::string pos = c.value("position_embedding_type", std::string("absolute"));
  KILN_CHECK(pos == "absolute", Unsupported,
             "config.json: {} position_embedding_type '{}' is not supported (absolute only)", what, pos);
  return k;
}

std::string activation(GraphBuilder& b, const std::string& x, const std::string& name) {
  if (name == "gelu") return b.gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return b.gelu_tanh(x);
  if (name == "relu") return b.op("Relu", {x});
  if (name == "tanh") return b.op("Tanh", {x});
  throw Unsupported(fmt::format("activation '{}' is not supported (gelu, gelu_new, relu)", name));
}

std::string linear(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name, int64_t out,
                   int64_t in) {
  Tensor weight = w.get(name + ".weight", {out, in});
  Tensor bias = w.get(name + ".bias", {out});
  return b.linear(x, weight, &bias, name);
}

// name.weight, or (older checkpoints converted from TensorFlow, e.g. bert-base-uncased's) name.gamma;
// the first name's error when neither is there.
static Tensor either(WeightSource& w, const std::string& name, const std::string& legacy, const Shape& shape) {
  try {
    return w.get(name, shape);
  } catch (const BadModel&) {
    try {
      return w.get(legacy, shape);
    } catch (const BadModel&) {
    }
    throw;
  }
}

std::string layer_norm(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name, int64_t dim,
                       float eps) {
  return b.layer_norm(x, either(w, name + ".weight", name + ".gamma", {dim}),
                      either(w, name + ".bias", name + ".beta", {dim}), eps, name);
}

const LayerNames kBertLayer = {"attention.self.query", "attention.self.key",      "attention.self.value",
                               "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                               "output.dense",          "output.LayerNorm"};
const LayerNames kDistilBertLayer = {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                                     "sa_layer_norm",   "ffn.lin1",        "ffn.lin2",        "output_layer_norm"};
const LayerNames kAlbertLayer = {"attention.query", "attention.key", "attention.value", "attention.dense",
                                 "attention.LayerNorm", "ffn",       "ffn_output",      "full_layer_layer_norm"};

std::string attention_bias(GraphBuilder& b, const std::string& mask) {
  std::string m = b.op("Cast", {mask}, {{"to", attr_int((int64_t)DType::F32)}});
  std::string inverted = b.op("Sub", {b.const_f32(1.0f), m});
  std::string bias = b.op("Mul", {inverted, b.const_f32(std::numeric_limits<float>::lowest())});
  return b.unsqueeze(bias, {1, 2});
}

std::string layer(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& bias,
                  const std::string& prefix, const LayerNames& n, const Config& c) {
  const int64_t head_dim = c.hidden / c.heads;
  auto lin = [&](const std::string& in, const std::string& name, int64_t out_dim, int64_t in_dim) {
    return linear(b, w, in, prefix + name, out_dim, in_dim);
  };
  std::string heads_shape = b.const_i64({0, 0, c.heads, head_dim});
  auto split_heads = [&](const std::string& t, std::vector<int64_t> perm) {
    return b.op("Transpose", {b.op("Reshape", {t, heads_shape})}, {{"perm", attr_ints(std::move(perm))}});
  };
  std::string scale = b.const_f32(1.0f / std::sqrt((float)head_dim));
  std::string q = b.op("Mul", {split_heads(lin(x, n.query, c.hidden, c.hidden), {0, 2, 1, 3}), scale});
  std::string k_t = split_heads(lin(x, n.key, c.hidden, c.hidden), {0, 2, 3, 1});
  std::string v = split_heads(lin(x, n.value, c.hidden, c.hidden), {0, 2, 1, 3});
  std::string scores = b.op("Add", {b.op("MatMul", {q, k_t}), bias});
  std::string probs = b.op("Softmax", {scores}, {{"axis", attr_int(-1)}});
  std::string ctx = b.op("Transpose", {b.op("MatMul", {probs, v})}, {{"perm", attr_ints({0, 2, 1, 3})}});
  ctx = b.op("Reshape", {ctx, b.const_i64({0, 0, c.hidden})});
  std::string attn = lin(ctx, n.attention_out, c.hidden, c.hidden);
  std::string h = layer_norm(b, w, b.op("Add", {attn, x}), prefix + n.attention_norm, c.hidden, c.eps);
  std::string f = activation(b, lin(h, n.intermediate, c.intermediate, c.hidden), c.activation);
  f = lin(f, n.output, c.hidden, c.intermediate);
  return layer_norm(b, w, b.op("Add", {f, h}), prefix + n.output_norm, c.hidden, c.eps);
}

std::string base_prefix(WeightSource& w, const std::string& prefix, const std::string& probe, const Shape& shape) {
  for (const std::string& p : {prefix, std::string()}) {
    try {
      w.get(p + probe, shape);
      return p;
    } catch (const BadModel&) {
    }
  }
  return prefix;  // neither: reading the head's names gives the clearest error
}

std::string embeddings(GraphBuilder& b, WeightSource& w, const std::string& prefix, const Config& c,
                       const std::string& ids, TokenTypes types, const std::string& token_type_ids,
                       const std::string& position_ids) {
  auto table = [&](const std::string& name, int64_t rows) {
    std::string n = prefix + name + ".weight";
    if (!b.has_initializer(n)) b.initializer(n, w.get(n, {rows, c.embedding}));
    return n;
  };
  std::string x = b.op("Gather", {table("word_embeddings", c.vocab), ids});
  if (types == TokenTypes::Input)
    x = b.op("Add", {x, b.op("Gather", {table("token_type_embeddings", c.type_vocab), token_type_ids})});
  else if (types == TokenTypes::FirstRow)
    x = b.op("Add", {x, b.op("Gather", {table("token_type_embeddings", c.type_vocab), b.const_i64({0}, true)})});
  x = b.op("Add", {x, b.op("Gather", {table("position_embeddings", c.positions), position_ids})});
  return layer_norm(b, w, x, prefix + "LayerNorm", c.embedding, c.eps);
}

std::string roberta_positions(GraphBuilder& b, const std::string& ids, int64_t pad_id) {
  std::string pad = b.const_i64({pad_id}, true);
  std::string real = b.op("Cast", {b.op("Not", {b.op("Equal", {ids, pad})})}, {{"to", attr_int((int64_t)DType::I64)}});
  std::string rank = b.op("CumSum", {real, b.const_i64({1}, true)});
  return b.op("Add", {b.op("Mul", {rank, real}), pad});
}

std::vector<Dim> batch_seq() { return {Dim{std::nullopt, "batch_size"}, Dim{std::nullopt, "sequence_length"}}; }

std::string first_token(GraphBuilder& b, const std::string& x) {
  return b.op("Gather", {x, b.const_i64({0}, true)}, {{"axis", attr_int(1)}});
}

std::string positions(GraphBuilder& b, const std::string& ids) {
  std::string seq = b.op("Gather", {b.op("Shape", {ids}), b.const_i64({1}, true)}, {{"axis", attr_int(0)}});
  return b.op("Range", {b.const_i64({0}, true), seq, b.const_i64({1}, true)});
}

void output_hidden_state(GraphBuilder& b, const std::string& x, int64_t hidden) {
  auto bs = batch_seq();
  b.output(x, "last_hidden_state", DType::F32, {bs[0], bs[1], Dim{hidden, ""}});
}

void output_token_logits(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name,
                         int64_t labels, int64_t hidden) {
  auto bs = batch_seq();
  b.output(linear(b, w, x, name, labels, hidden), "logits", DType::F32, {bs[0], bs[1], Dim{labels, ""}});
}

void output_span_logits(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name,
                        int64_t hidden) {
  auto bs = batch_seq();
  std::string logits = linear(b, w, x, name, 2, hidden);  // [batch, seq, 2]
  for (int64_t i = 0; i < 2; ++i) {
    std::string one = b.op("Gather", {logits, b.const_i64({i}, true)}, {{"axis", attr_int(2)}});
    b.output(one, i == 0 ? "start_logits" : "end_logits", DType::F32, {bs[0], bs[1]});
  }
}

void output_sequence_logits(GraphBuilder& b, const std::string& logits, int64_t labels) {
  b.output(logits, "logits", DType::F32, {batch_seq()[0], Dim{labels, ""}});
}

void output_vocab_logits(GraphBuilder& b, WeightSource& w, const std::string& h, const std::string& table,
                         const std::string& bias, int64_t vocab, int64_t dim) {
  if (!b.has_initializer(table)) b.initializer(table, w.get(table, {vocab, dim}));
  if (!b.has_initializer(bias)) b.initializer(bias, w.get(bias, {vocab}));
  std::string logits = b.op("Add", {b.linear_tied(h, table), bias});
  auto bs = batch_seq();
  b.output(logits, "logits", DType::F32, {bs[0], bs[1], Dim{vocab, ""}});
}

}  // namespace kiln::exporting::encoder
