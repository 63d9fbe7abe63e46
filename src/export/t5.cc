// T5 and mT5 (transformers' T5ForConditionalGeneration / MT5ForConditionalGeneration) as the three
// graphs Optimum writes for text2text-generation: encoder_model.onnx, decoder_model.onnx (first
// step: returns the self- and cross-attention keys/values) and decoder_with_past_model.onnx (later
// steps: takes them back as past_key_values.*). Interfaces follow the reference exports in
// tests/fixtures/models/t5-tiny (docs/export.md, "T5 and mT5").
#include <cmath>
#include <limits>

#include "export/cached_attention.h"
#include "export/export.h"
#include "export/graph_builder.h"

namespace kiln::exporting {
namespace {

struct T5Config {
  int64_t vocab, d_model, d_kv, d_ff, heads, enc_layers, dec_layers, buckets, max_distance;
  float eps;
  bool gated, tied;
  std::string act;  // relu | gelu | gelu_new | silu
  int64_t inner() const { return heads * d_kv; }
};

T5Config read_config(const nlohmann::json& c) {
  // transformers' defaults differ: MT5Config unties the head and uses the gated GELU.
  const bool mt5 = c.value("model_type", std::string()) == "mt5";
  T5Config k;
  k.vocab = c.value("vocab_size", mt5 ? 250112 : 32128);
  k.d_model = c.value("d_model", 512);
  k.d_kv = c.value("d_kv", 64);
  k.d_ff = c.value("d_ff", 2048);
  k.heads = c.value("num_heads", 8);
  k.enc_layers = c.value("num_layers", 6);
  k.dec_layers = c.contains("num_decoder_layers") && !c["num_decoder_layers"].is_null()
                     ? c["num_decoder_layers"].get<int64_t>()
                     : k.enc_layers;
  k.buckets = c.value("relative_attention_num_buckets", 32);
  k.max_distance = c.value("relative_attention_max_distance", 128);
  k.eps = c.value("layer_norm_epsilon", 1e-6f);
  k.tied = c.value("tie_word_embeddings", !mt5);
  std::string proj = c.value("feed_forward_proj", std::string(mt5 ? "gated-gelu" : "relu"));
  k.gated = proj.rfind("gated-", 0) == 0;
  k.act = k.gated ? proj.substr(6) : proj;
  if (k.gated && k.act == "gelu") k.act = "gelu_new";  // transformers maps gated-gelu to the tanh GELU
  KILN_CHECK(k.act == "relu" || k.act == "gelu" || k.act == "gelu_new" || k.act == "silu", Unsupported,
             "config.json: feed_forward_proj '{}' is not supported (relu, gelu, gated-gelu, gated-relu, gated-silu)",
             proj);
  KILN_CHECK(k.buckets >= 4 && k.max_distance > k.buckets / 4, BadModel,
             "config.json: relative_attention_num_buckets {} / relative_attention_max_distance {} are not usable",
             k.buckets, k.max_distance);
  return k;
}

constexpr float kMin = std::numeric_limits<float>::lowest();

class T5Builder {
 public:
  T5Builder(const T5Config& c, WeightSource& w, const ExportOptions& o) : c_(c), w_(w), o_(o) {}

  Model encoder();
  Model decoder(bool with_past);

 private:
  // Each parameter is read once and shared by the graphs (random weights stay consistent between
  // the decoders, and the merged decoder can store them once).
  Tensor get(const std::string& name, const Shape& shape) {
    auto it = cache_.find(name);
    if (it == cache_.end()) it = cache_.emplace(name, w_.get(name, shape)).first;
    return it->second;
  }
  // The shared embedding: checkpoints from safetensors keep only shared.weight; torch files may
  // hold the tied copies under their own names too.
  Tensor shared();

  std::string rms_norm(GraphBuilder& b, const std::string& x, const std::string& name);
  std::string act(GraphBuilder& b, const std::string& x);
  std::string ffn(GraphBuilder& b, const std::string& x, const std::string& prefix);
  std::string proj(GraphBuilder& b, const std::string& x, const std::string& name, int64_t out, int64_t in) {
    return b.linear(x, get(name + ".weight", {out, in}), nullptr, name);
  }
  // Bias [1, heads, q, k] from the relative positions k_pos - q_pos (int64 vectors) through the
  // bucketed embedding `table_name`.
  std::string relative_bias(GraphBuilder& b, const std::string& table_name, const std::string& q_pos,
                            const std::string& k_pos, bool bidirectional);
  // [batch, 1, 1, seq]: 0 where mask is 1, the float minimum where it is 0.
  std::string padding_bias(GraphBuilder& b, const std::string& mask);

  T5Config c_;
  WeightSource& w_;
  ExportOptions o_;
  std::map<std::string, Tensor> cache_;
};

Tensor T5Builder::shared() {
  for (const char* name : {"shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
    try {
      return get(name, {c_.vocab, c_.d_model});
    } catch (const BadModel&) {
      // try the next name; the last failure is reported below
    }
  }
  return get("shared.weight", {c_.vocab, c_.d_model});  // throws, naming the missing parameter
}

std::string T5Builder::rms_norm(GraphBuilder& b, const std::string& x, const std::string& name) {
  std::string sq = b.op("Mul", {x, x});
  std::string var = b.opset() >= 18
                        ? b.op("ReduceMean", {sq, b.const_i64({-1})}, {{"keepdims", attr_int(1)}})
                        : b.op("ReduceMean", {sq}, {{"axes", attr_ints({-1})}, {"keepdims", attr_int(1)}});
  std::string norm = b.op("Div", {x, b.op("Sqrt", {b.op("Add", {var, b.const_f32(c_.eps)})})});
  std::string w = b.initializer(name + ".weight", get(name + ".weight", {c_.d_model}));
  return b.op("Mul", {w, norm});
}

std::string T5Builder::act(GraphBuilder& b, const std::string& x) {
  if (c_.act == "relu") return b.op("Relu", {x});
  if (c_.act == "gelu") return b.gelu(x);
  if (c_.act == "silu") return b.op("Mul", {x, b.op("Sigmoid", {x})});
  // gelu_new: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
  std::string cube = b.op("Mul", {b.op("Mul", {x, x}), x});
  std::string inner = b.op("Add", {x, b.op("Mul", {cube, b.const_f32(0.044715f)})});
  std::string t = b.op("Tanh", {b.op("Mul", {inner, b.const_f32(0.7978845608028654f)})});
  return b.op("Mul", {b.op("Mul", {x, b.const_f32(0.5f)}), b.op("Add", {t, b.const_f32(1.0f)})});
}

std::string T5Builder::ffn(GraphBuilder& b, const std::string& x, const std::string& prefix) {
  std::string h;
  if (c_.gated) {
    std::string g = act(b, proj(b, x, prefix + ".wi_0", c_.d_ff, c_.d_model));
    h = b.op("Mul", {g, proj(b, x, prefix + ".wi_1", c_.d_ff, c_.d_model)});
  } else {
    h = act(b, proj(b, x, prefix + ".wi", c_.d_ff, c_.d_model));
  }
  return proj(b, h, prefix + ".wo", c_.d_model, c_.d_ff);
}

std::string T5Builder::relative_bias(GraphBuilder& b, const std::string& table_name, const std::string& q_pos,
                                     const std::string& k_pos, bool bidirectional) {
  std::string table = b.initializer(table_name, get(table_name, {c_.buckets, c_.heads}));
  std::string rel = b.op("Sub", {b.op("Unsqueeze", {k_pos, b.const_i64({0})}),
                                 b.op("Unsqueeze", {q_pos, b.const_i64({1})})});  // [q, k]
  int64_t buckets = c_.buckets;
  std::string base;
  if (bidirectional) {
    buckets /= 2;
    std::string after = b.op("Cast", {b.op("Greater", {rel, b.const_i64({0}, true)})}, {{"to", attr_int(7)}});
    base = b.op("Mul", {after, b.const_i64({buckets}, true)});
    rel = b.op("Abs", {rel});
  } else {
    rel = b.op("Neg", {b.op("Min", {rel, b.const_i64({0}, true)})});
  }
  const int64_t max_exact = buckets / 2;
  std::string is_small = b.op("Less", {rel, b.const_i64({max_exact}, true)});
  // max_exact + log(rel / max_exact) / log(max_distance / max_exact) * (buckets - max_exact), truncated;
  // rel is raised to max_exact first so that the (unused) small positions take no log of 0.
  std::string ratio = b.op("Div", {b.op("Cast", {rel}, {{"to", attr_int(1)}}), b.const_f32((float)max_exact)});
  ratio = b.op("Max", {ratio, b.const_f32(1.0f)});
  std::string scaled = b.op("Div", {b.op("Log", {ratio}), b.const_f32((float)std::log((double)c_.max_distance / max_exact))});
  scaled = b.op("Mul", {scaled, b.const_f32((float)(buckets - max_exact))});
  std::string large = b.op("Add", {b.op("Cast", {scaled}, {{"to", attr_int(7)}}), b.const_i64({max_exact}, true)});
  large = b.op("Min", {large, b.const_i64({buckets - 1}, true)});
  std::string bucket = b.op("Where", {is_small, rel, large});
  if (bidirectional) bucket = b.op("Add", {bucket, base});
  std::string values = b.op("Gather", {table, bucket}, {{"axis", attr_int(0)}});  // [q, k, heads]
  values = b.op("Transpose", {values}, {{"perm", attr_ints({2, 0, 1})}});
  return b.op("Unsqueeze", {values, b.const_i64({0})});
}

std::string T5Builder::padding_bias(GraphBuilder& b, const std::string& mask) {
  std::string m = b.op("Cast", {mask}, {{"to", attr_int(1)}});
  std::string bias = b.op("Mul", {b.op("Sub", {b.const_f32(1.0f), m}), b.const_f32(kMin)});
  return b.op("Unsqueeze", {bias, b.const_i64({1, 2})});
}

const Dim kBatch{std::nullopt, "batch_size"};

Model T5Builder::encoder() {
  GraphBuilder b("encoder", o_.opset);
  const Dim seq{std::nullopt, "encoder_sequence_length"};
  std::string ids = b.input("input_ids", DType::I64, {kBatch, seq});
  std::string mask = b.input("attention_mask", DType::I64, {kBatch, seq});
  std::string x = b.op("Gather", {b.initializer("shared.weight", shared()), ids}, {{"axis", attr_int(0)}});

  std::string n = b.op("Gather", {b.op("Shape", {ids}), b.const_i64({1}, true)}, {{"axis", attr_int(0)}});
  std::string pos = b.op("Range", {b.const_i64({0}, true), n, b.const_i64({1}, true)});
  std::string bias = b.op("Add", {relative_bias(b, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                                pos, pos, true),
                                  padding_bias(b, mask)});
  for (int64_t l = 0; l < c_.enc_layers; ++l) {
    const std::string L = fmt::format("encoder.block.{}.", l);
    const std::string A = L + "layer.0.SelfAttention.";
    std::string h = rms_norm(b, x, L + "layer.0.layer_norm");
    std::string q = split_heads(b, proj(b, h, A + "q", c_.inner(), c_.d_model), c_.heads, c_.d_kv);
    std::string k = split_heads(b, proj(b, h, A + "k", c_.inner(), c_.d_model), c_.heads, c_.d_kv);
    std::string v = split_heads(b, proj(b, h, A + "v", c_.inner(), c_.d_model), c_.heads, c_.d_kv);
    std::string ctx = merge_heads(b, attention_product(b, q, k, v, bias), c_.heads, c_.d_kv);
    x = b.op("Add", {x, proj(b, ctx, A + "o", c_.d_model, c_.inner())});
    x = b.op("Add", {x, ffn(b, rms_norm(b, x, L + "layer.1.layer_norm"), L + "layer.1.DenseReluDense")});
  }
  x = rms_norm(b, x, "encoder.final_layer_norm");
  b.output(x, "last_hidden_state", DType::F32, {kBatch, seq, Dim{c_.d_model, ""}});
  return b.finish();
}

Model T5Builder::decoder(bool with_past) {
  GraphBuilder b(with_past ? "decoder_with_past" : "decoder", o_.opset);
  const Dim seq{std::nullopt, "decoder_sequence_length"}, enc_seq{std::nullopt, "encoder_sequence_length"};
  const Dim heads{c_.heads, ""}, head_dim{c_.d_kv, ""};
  const Dim past_seq{std::nullopt, "past_decoder_sequence_length"};
  const Dim enc_out{std::nullopt, "encoder_sequence_length_out"};
  const Dim total_seq{std::nullopt, "past_decoder_sequence_length + 1"};
  std::string ids = b.input("input_ids", DType::I64, {kBatch, seq});
  std::string enc_mask = b.input("encoder_attention_mask", DType::I64, {kBatch, enc_seq});
  std::string enc = b.input("encoder_hidden_states", DType::F32, {kBatch, enc_seq, Dim{c_.d_model, ""}});
  std::vector<std::string> past;  // per layer: decoder key, decoder value, encoder key, encoder value
  if (with_past)
    for (int64_t l = 0; l < c_.dec_layers; ++l)
      for (const char* part : {"decoder.key", "decoder.value", "encoder.key", "encoder.value"}) {
        bool self = part[0] == 'd';
        past.push_back(b.input(fmt::format("past_key_values.{}.{}", l, part), DType::F32,
                               {kBatch, heads, self ? past_seq : enc_out, head_dim}));
      }

  std::string x = b.op("Gather", {b.initializer("shared.weight", shared()), ids}, {{"axis", attr_int(0)}});

  // Query positions continue after the cached ones; keys cover past and new tokens.
  std::string n = b.op("Gather", {b.op("Shape", {ids}), b.const_i64({1}, true)}, {{"axis", attr_int(0)}});
  std::string start = past_length(b, with_past ? past[0] : "");
  std::string total = b.op("Add", {start, n});
  std::string q_pos = b.op("Range", {start, total, b.const_i64({1}, true)});
  std::string k_pos = b.op("Range", {b.const_i64({0}, true), total, b.const_i64({1}, true)});
  std::string future = b.op("Greater", {b.op("Unsqueeze", {k_pos, b.const_i64({0})}),
                                        b.op("Unsqueeze", {q_pos, b.const_i64({1})})});
  std::string causal = b.op("Where", {future, b.const_f32(kMin), b.const_f32(0.0f)});
  std::string self_bias = b.op(
      "Add", {relative_bias(b, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", q_pos, k_pos,
                            false),
              causal});
  std::string cross_bias = padding_bias(b, enc_mask);

  std::vector<std::pair<std::string, std::string>> presents;  // (value, output name)
  for (int64_t l = 0; l < c_.dec_layers; ++l) {
    const std::string L = fmt::format("decoder.block.{}.", l);
    const std::string S = L + "layer.0.SelfAttention.", X = L + "layer.1.EncDecAttention.";
    auto heads_of = [&](const std::string& t) { return split_heads(b, t, c_.heads, c_.d_kv); };
    auto present = [&](const std::string& v, const std::string& part) {
      presents.push_back({v, fmt::format("present.{}.{}", l, part)});
    };

    std::string h = rms_norm(b, x, L + "layer.0.layer_norm");
    std::string q = heads_of(proj(b, h, S + "q", c_.inner(), c_.d_model));
    std::string k = append_past(b, with_past ? past[4 * l] : "", heads_of(proj(b, h, S + "k", c_.inner(), c_.d_model)));
    std::string v =
        append_past(b, with_past ? past[4 * l + 1] : "", heads_of(proj(b, h, S + "v", c_.inner(), c_.d_model)));
    present(k, "decoder.key");
    present(v, "decoder.value");
    std::string ctx = merge_heads(b, attention_product(b, q, k, v, self_bias), c_.heads, c_.d_kv);
    x = b.op("Add", {x, proj(b, ctx, S + "o", c_.d_model, c_.inner())});

    h = rms_norm(b, x, L + "layer.1.layer_norm");
    q = heads_of(proj(b, h, X + "q", c_.inner(), c_.d_model));
    if (with_past) {  // cross-attention keys and values depend only on the encoder: reuse them
      k = past[4 * l + 2];
      v = past[4 * l + 3];
    } else {
      k = heads_of(proj(b, enc, X + "k", c_.inner(), c_.d_model));
      v = heads_of(proj(b, enc, X + "v", c_.inner(), c_.d_model));
      present(k, "encoder.key");
      present(v, "encoder.value");
    }
    ctx = merge_heads(b, attention_product(b, q, k, v, cross_bias), c_.heads, c_.d_kv);
    x = b.op("Add", {x, proj(b, ctx, X + "o", c_.d_model, c_.inner())});

    x = b.op("Add", {x, ffn(b, rms_norm(b, x, L + "layer.2.layer_norm"), L + "layer.2.DenseReluDense")});
  }
  x = rms_norm(b, x, "decoder.final_layer_norm");

  std::string logits;
  if (c_.tied) {  // tied embeddings: transformers rescales by d_model ** -0.5 before the shared lm_head
    x = b.op("Mul", {x, b.const_f32((float)std::pow((double)c_.d_model, -0.5))});
    logits = b.linear_tied(x, "shared.weight");  // the Gather's table, stored once
  } else {
    logits = b.linear(x, get("lm_head.weight", {c_.vocab, c_.d_model}), nullptr, "lm_head");
  }
  b.output(logits, "logits", DType::F32, {kBatch, seq, Dim{c_.vocab, ""}});
  for (const auto& [value, name] : presents) {
    bool self = name.find(".decoder.") != std::string::npos;
    b.output(value, name, DType::F32, {kBatch, heads, self ? (with_past ? total_seq : seq) : enc_out, head_dim});
  }
  return b.finish();
}

std::vector<ExportedGraph> build_t5(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  T5Config c = read_config(config);
  std::string task = o.task == "auto" ? "text2text-generation" : o.task;
  KILN_CHECK(task == "text2text-generation" || task == "summarization" || task == "translation", Unsupported,
             "T5 export supports text2text-generation (summarization, translation), not '{}'", task);
  T5Builder builder(c, w, o);
  std::vector<ExportedGraph> out;
  out.push_back({"encoder_model.onnx", builder.encoder()});
  out.push_back({"decoder_model.onnx", builder.decoder(false)});
  out.push_back({"decoder_with_past_model.onnx", builder.decoder(true)});
  return out;
}

[[maybe_unused]] const bool registered_t5 = register_architecture("t5", &build_t5, {"text2text-generation"});
[[maybe_unused]] const bool registered_mt5 = register_architecture("mt5", &build_t5, {"text2text-generation"});

}  // namespace
}  // namespace kiln::exporting
