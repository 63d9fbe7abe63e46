// GPT-2 (transformers' GPT2LMHeadModel) as Optimum's two decoder graphs: decoder_model
// (input_ids, attention_mask -> logits, present.{i}.key/value) and decoder_with_past_model (the same
// plus past_key_values.{i}.key/value; attention_mask covers past and new tokens). Positions are
// past_length + arange(new tokens), as GPT2Model computes them when no position_ids are given.
#include <cmath>
#include <limits>

#include "export/decoder_parts.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

struct Gpt2Config {
  int64_t vocab = 0, dim = 0, heads = 0, layers = 0, positions = 0, inner = 0;
  std::string activation;
  float eps = 1e-5f;
  bool scale_weights = true, scale_by_layer = false, tied = true;
};

Gpt2Config read_config(const nlohmann::json& j) {
  Gpt2Config c;
  c.vocab = config_positive(j, "vocab_size", 50257);
  c.dim = config_positive(j, "n_embd", 768);
  c.heads = config_positive(j, "n_head", 12);
  c.layers = config_positive(j, "n_layer", 12);
  c.positions = config_positive(j, "n_positions", 1024);
  c.inner = config_positive(j, "n_inner", 4 * c.dim);  // null means 4 * n_embd
  c.activation = j.value("activation_function", std::string("gelu_new"));
  check_activation(c.activation, "config.json activation_function");
  c.eps = j.value("layer_norm_epsilon", 1e-5f);
  c.scale_weights = j.value("scale_attn_weights", true);
  c.scale_by_layer = j.value("scale_attn_by_inverse_layer_idx", false);
  c.tied = j.value("tie_word_embeddings", true);
  KILN_CHECK(c.dim % c.heads == 0, BadModel, "config.json: n_embd {} is not a multiple of n_head {}", c.dim, c.heads);
  KILN_CHECK(!j.value("add_cross_attention", false), Unsupported,
             "config.json: GPT-2 with add_cross_attention (an encoder-decoder part) cannot be exported");
  return c;
}

const float kMin = std::numeric_limits<float>::lowest();

Model build_decoder(const Gpt2Config& c, WeightSource& w, const ExportOptions& o, bool with_past) {
  GraphBuilder b("main_graph", o.opset);
  // GPT2Model saved on its own has no "transformer." prefix.
  const std::string P = !w.has("transformer.wte.weight") && w.has("wte.weight") ? "" : "transformer.";
  const int64_t hd = c.dim / c.heads;
  const Dim batch = dyn("batch_size"), seq = dyn("sequence_length"), past_seq = dyn("past_sequence_length");
  const Dim total = with_past ? dyn("past_sequence_length + sequence_length") : seq;

  std::string ids = b.input("input_ids", DType::I64, {batch, seq});
  std::string mask = b.input("attention_mask", DType::I64, {batch, total});
  std::vector<std::string> past;
  for (int64_t l = 0; with_past && l < c.layers; ++l)
    for (const char* kind : {"key", "value"})
      past.push_back(b.input(fmt::format("past_key_values.{}.{}", l, kind), DType::F32,
                             {batch, fixed(c.heads), past_seq, fixed(hd)}));

  auto norm = [&](const std::string& x, const std::string& name) {
    return b.layer_norm(x, w.get(name + ".weight", {c.dim}), w.get(name + ".bias", {c.dim}), c.eps, name);
  };
  // Conv1D: x @ W + b with W stored [in, out], as the graph wants it (no transpose).
  auto conv1d = [&](const std::string& x, const std::string& name, int64_t in, int64_t out) {
    std::string wt = b.initializer(name + ".weight", w.get(name + ".weight", {in, out}));
    std::string bias = b.initializer(name + ".bias", w.get(name + ".bias", {out}));
    return b.op("Add", {b.op("MatMul", {x, wt}), bias});
  };

  std::string past_len = past_length(b, with_past ? past[0] : "");
  std::string new_len = dim_of(b, ids, 1);
  std::string wte =
      b.initializer(P + "wte.weight", get_first_of(w, {P + "wte.weight", "lm_head.weight"}, {c.vocab, c.dim}));
  std::string wpe = b.initializer(P + "wpe.weight", w.get(P + "wpe.weight", {c.positions, c.dim}));
  std::string x = b.op("Add", {b.op("Gather", {wte, ids}), b.op("Gather", {wpe, positions(b, past_len, new_len)})});

  // GPT2Attention: scores / sqrt(head_dim), the future set to the float32 minimum (the uint8
  // attn.bias buffer, rebuilt here from the shapes), then (1 - mask) * minimum added.
  std::string future = causal_future(b, past_len, new_len);
  std::string fill = b.const_f32(kMin);
  std::string mask_f = b.op("Cast", {mask}, {{"to", attr_int((int64_t)DType::F32)}});
  std::string pad = b.op("Mul", {b.op("Sub", {b.const_f32(1.0f), mask_f}), fill});
  pad = b.op("Unsqueeze", {pad, b.const_i64({1, 2})});
  std::string split = b.const_i64({c.dim, c.dim, c.dim});

  std::vector<std::pair<std::string, std::string>> presents;
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string L = fmt::format("{}h.{}.", P, l);
    std::string h = norm(x, L + "ln_1");
    std::string qkv = conv1d(h, L + "attn.c_attn", c.dim, 3 * c.dim);
    std::vector<std::string> parts =
        o.opset >= 13 ? b.op_n("Split", {qkv, split}, 3, {{"axis", attr_int(2)}})
                      : b.op_n("Split", {qkv}, 3, {{"axis", attr_int(2)}, {"split", attr_ints({c.dim, c.dim, c.dim})}});
    std::string q = split_heads(b, parts[0], c.heads, hd);
    std::string k = split_heads(b, parts[1], c.heads, hd);
    std::string v = split_heads(b, parts[2], c.heads, hd);
    if (with_past) {
      k = append_past(b, past[2 * l], k);
      v = append_past(b, past[2 * l + 1], v);
    }
    presents.push_back({k, v});
    std::string s = scores(b, q, k);
    if (c.scale_weights) s = b.op("Div", {s, b.const_f32((float)std::sqrt((double)hd))});
    if (c.scale_by_layer) s = b.op("Div", {s, b.const_f32((float)(l + 1))});
    s = b.op("Add", {b.op("Where", {future, fill, s}), pad});
    std::string a = conv1d(attend(b, s, v, c.heads, hd), L + "attn.c_proj", c.dim, c.dim);
    x = b.op("Add", {a, x});
    h = norm(x, L + "ln_2");
    h = activation(b, conv1d(h, L + "mlp.c_fc", c.dim, c.inner), c.activation);
    x = b.op("Add", {x, conv1d(h, L + "mlp.c_proj", c.inner, c.dim)});
  }
  x = norm(x, P + "ln_f");

  // Tied: the lm_head reads wte through a Transpose, so the table is stored once.
  std::string logits = c.tied ? b.linear_tied(x, wte)
                              : b.linear(x, w.get("lm_head.weight", {c.vocab, c.dim}), nullptr, "lm_head");
  b.output(logits, "logits", DType::F32, {batch, seq, fixed(c.vocab)});
  for (int64_t l = 0; l < c.layers; ++l) {
    std::vector<Dim> kv_dims = {batch, fixed(c.heads), total, fixed(hd)};
    b.output(presents[l].first, fmt::format("present.{}.key", l), DType::F32, kv_dims);
    b.output(presents[l].second, fmt::format("present.{}.value", l), DType::F32, kv_dims);
  }
  return b.finish();
}

std::vector<ExportedGraph> build_gpt2(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  Gpt2Config c = read_config(config);
  KILN_CHECK(o.task == "auto" || o.task == "text-generation", Unsupported,
             "GPT-2 export supports the task text-generation, not '{}'", o.task);
  std::vector<ExportedGraph> out;
  out.push_back({"decoder_model.onnx", build_decoder(c, w, o, false)});
  out.push_back({"decoder_with_past_model.onnx", build_decoder(c, w, o, true)});
  return out;
}

[[maybe_unused]] const bool registered_gpt2 = register_architecture("gpt2", &build_gpt2, {"text-generation"});

}  // namespace
}  // namespace kiln::exporting
