// The BART family as Optimum's three seq2seq graphs (encoder_model, decoder_model,
// decoder_with_past_model): transformers' BartForConditionalGeneration (model_type bart),
// MBartForConditionalGeneration (mbart: LayerNorm before each block and after each stack) and
// MarianMTModel (marian: sinusoidal positions without offset, no embedding LayerNorm).
#include <cmath>
#include <limits>

#include "export/decoder_parts.h"
#include "export/export.h"

namespace kiln::exporting {
namespace {

struct BartConfig {
  std::string type;  // bart, mbart, marian
  int64_t vocab = 0, decoder_vocab = 0, dim = 0, positions = 0;
  int64_t enc_layers = 0, dec_layers = 0, enc_heads = 0, dec_heads = 0, enc_ffn = 0, dec_ffn = 0;
  std::string activation;
  float embed_scale = 1.0f;
  bool pre_norm = false;        // mbart: LayerNorm before each block, and one after each stack
  bool embedding_norm = true;   // bart, mbart: layernorm_embedding after the embeddings
  bool sinusoidal = false;      // marian: fixed sinusoidal position table
  int64_t position_offset = 2;  // bart, mbart: learned positions start at row 2
  bool shared_embeddings = true;
  bool tied = true;  // lm_head = the decoder's token embeddings
};

BartConfig read_config(const nlohmann::json& j) {
  BartConfig c;
  c.type = j.value("model_type", std::string("bart"));
  const bool marian = c.type == "marian";
  c.vocab = config_positive(j, "vocab_size", marian ? 58101 : 50265);
  c.decoder_vocab = marian ? config_positive(j, "decoder_vocab_size", c.vocab) : c.vocab;
  c.dim = config_positive(j, "d_model", 1024);
  c.positions = config_positive(j, "max_position_embeddings", 1024);
  c.enc_layers = config_positive(j, "encoder_layers", 12);
  c.dec_layers = config_positive(j, "decoder_layers", 12);
  c.enc_heads = config_positive(j, "encoder_attention_heads", 16);
  c.dec_heads = config_positive(j, "decoder_attention_heads", 16);
  c.enc_ffn = config_positive(j, "encoder_ffn_dim", 4096);
  c.dec_ffn = config_positive(j, "decoder_ffn_dim", 4096);
  c.activation = j.value("activation_function", std::string("gelu"));
  check_activation(c.activation, "config.json activation_function");
  KILN_CHECK(c.dim % c.enc_heads == 0 && c.dim % c.dec_heads == 0, BadModel,
             "config.json: d_model {} is not a multiple of the attention heads ({}, {})", c.dim, c.enc_heads,
             c.dec_heads);
  if (j.value("scale_embedding", false)) c.embed_scale = (float)std::sqrt((double)c.dim);
  c.pre_norm = c.type == "mbart";
  c.embedding_norm = !marian;
  c.sinusoidal = marian;
  c.position_offset = marian ? 0 : 2;
  c.shared_embeddings = !marian || j.value("share_encoder_decoder_embeddings", true);
  c.tied = j.value("tie_word_embeddings", true);
  KILN_CHECK(!c.shared_embeddings || c.vocab == c.decoder_vocab, BadModel,
             "config.json: decoder_vocab_size {} differs from vocab_size {} but share_encoder_decoder_embeddings is "
             "true; set it to false for separate vocabularies",
             c.decoder_vocab, c.vocab);
  return c;
}

// Marian's fixed table: row p, column j < dim/2 (rounded up) = sin(p / 10000^(2*(2j)/2/dim)),
// the rest cos of the odd exponents, computed in double as transformers does with numpy.
Tensor sinusoidal_table(int64_t rows, int64_t dim) {
  Tensor t(DType::F32, {rows, dim});
  float* p = t.data<float>();
  const int64_t half = (dim + 1) / 2;
  for (int64_t pos = 0; pos < rows; ++pos)
    for (int64_t j = 0; j < dim; ++j) {
      double angle = (double)pos / std::pow(10000.0, 2.0 * (double)(j / 2) / (double)dim);
      int64_t col = j % 2 == 0 ? j / 2 : half + j / 2;
      p[pos * dim + col] = (float)(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return t;
}

const float kMin = std::numeric_limits<float>::lowest();

// Helpers bound to one graph under construction.
struct Builder {
  GraphBuilder b;
  WeightSource& w;
  const BartConfig& c;
  std::string P;  // "model." (or "" for a bare BartModel checkpoint)

  Builder(int64_t opset, WeightSource& weights, const BartConfig& config, std::string prefix)
      : b("main_graph", opset), w(weights), c(config), P(std::move(prefix)) {}

  std::string lin(const std::string& x, const std::string& name, int64_t out, int64_t in) {
    Tensor wt = w.get(name + ".weight", {out, in});
    Tensor bias = w.get(name + ".bias", {out});
    return b.linear(x, wt, &bias, name);
  }
  std::string norm(const std::string& x, const std::string& name) {
    return b.layer_norm(x, w.get(name + ".weight", {c.dim}), w.get(name + ".bias", {c.dim}), 1e-5f, name);
  }

  // The names under which a checkpoint may store the token table of `stack` (its tied aliases).
  std::vector<std::string> token_table_names(const std::string& stack) const {
    std::string own = P + stack + ".embed_tokens.weight";
    if (!c.shared_embeddings) return {own};
    std::string other = P + (stack == "encoder" ? "decoder" : "encoder") + ".embed_tokens.weight";
    return {P + "shared.weight", own, other, "lm_head.weight"};
  }

  // Token embeddings * scale + positions (past_len + arange), then layernorm_embedding.
  std::string embed(const std::string& stack, const std::string& ids, const std::string& past_len) {
    std::vector<std::string> names = token_table_names(stack);
    int64_t rows = stack == "decoder" ? c.decoder_vocab : c.vocab;
    std::string table = b.initializer(names[0], get_first_of(w, names, {rows, c.dim}));
    std::string x = b.op("Gather", {table, ids});
    if (c.embed_scale != 1.0f) x = b.op("Mul", {x, b.const_f32(c.embed_scale)});

    std::string pos_name = P + stack + ".embed_positions.weight";
    int64_t pos_rows = c.positions + c.position_offset;
    Tensor pos_table =
        c.sinusoidal && !w.has(pos_name) ? sinusoidal_table(pos_rows, c.dim) : w.get(pos_name, {pos_rows, c.dim});
    std::string pos = positions(b, past_len, dim_of(b, ids, 1));
    if (c.position_offset) pos = b.op("Add", {pos, b.const_i64({c.position_offset}, true)});
    x = b.op("Add", {x, b.op("Gather", {b.initializer(pos_name, pos_table), pos})});
    return c.embedding_norm ? norm(x, P + stack + ".layernorm_embedding") : x;
  }

  // k and v of `name` projected from x, split into heads.
  std::pair<std::string, std::string> key_value(const std::string& name, const std::string& x, int64_t heads) {
    const int64_t hd = c.dim / heads;
    return {split_heads(b, lin(x, name + ".k_proj", c.dim, c.dim), heads, hd),
            split_heads(b, lin(x, name + ".v_proj", c.dim, c.dim), heads, hd)};
  }

  // out_proj(softmax(q_proj(x) * head_dim^-0.5 @ k^T + mask) @ v).
  std::string attention(const std::string& name, const std::string& x, const std::string& k, const std::string& v,
                        const std::string& mask, int64_t heads) {
    const int64_t hd = c.dim / heads;
    std::string scale = b.const_f32((float)std::pow((double)hd, -0.5));
    std::string q = split_heads(b, b.op("Mul", {lin(x, name + ".q_proj", c.dim, c.dim), scale}), heads, hd);
    std::string s = b.op("Add", {scores(b, q, k), mask});
    return lin(attend(b, s, v, heads, hd), name + ".out_proj", c.dim, c.dim);
  }

  // residual + block(x), with the block's LayerNorm before (mbart) or after (bart, marian).
  template <class Block>
  std::string residual(const std::string& x, const std::string& norm_name, Block block) {
    std::string h = c.pre_norm ? norm(x, norm_name) : x;
    std::string y = b.op("Add", {x, block(h)});
    return c.pre_norm ? y : norm(y, norm_name);
  }

  std::string ffn(const std::string& x, const std::string& L, int64_t hidden) {
    std::string h = activation(b, lin(x, L + "fc1", hidden, c.dim), c.activation);
    return lin(h, L + "fc2", c.dim, hidden);
  }
};

std::string weight_prefix(WeightSource& w) {
  // A BartModel saved on its own has no "model." prefix.
  if (!w.has("model.encoder.layers.0.fc1.weight") && w.has("encoder.layers.0.fc1.weight")) return "";
  return "model.";
}

Model build_encoder(const BartConfig& c, WeightSource& w, const ExportOptions& o) {
  Builder g(o.opset, w, c, weight_prefix(w));
  GraphBuilder& b = g.b;
  std::vector<Dim> bs = {dyn("batch_size"), dyn("encoder_sequence_length")};
  std::string ids = b.input("input_ids", DType::I64, bs);
  std::string mask = padding_mask(b, b.input("attention_mask", DType::I64, bs));
  std::string x = g.embed("encoder", ids, b.const_i64({0}, true));
  for (int64_t l = 0; l < c.enc_layers; ++l) {
    std::string L = fmt::format("{}encoder.layers.{}.", g.P, l);
    x = g.residual(x, L + "self_attn_layer_norm", [&](const std::string& h) {
      auto [k, v] = g.key_value(L + "self_attn", h, c.enc_heads);
      return g.attention(L + "self_attn", h, k, v, mask, c.enc_heads);
    });
    x = g.residual(x, L + "final_layer_norm", [&](const std::string& h) { return g.ffn(h, L, c.enc_ffn); });
  }
  if (c.pre_norm) x = g.norm(x, g.P + "encoder.layer_norm");
  b.output(x, "last_hidden_state", DType::F32, {bs[0], bs[1], fixed(c.dim)});
  return b.finish();
}

// decoder_model (with_past false): input_ids, encoder_attention_mask, encoder_hidden_states ->
// logits and every present. decoder_with_past_model: input_ids, encoder_attention_mask and the
// cache -> logits and the self-attention presents (the cross-attention cache does not change, and
// encoder_hidden_states is not needed, as in the graphs torch.onnx.export writes).
Model build_decoder(const BartConfig& c, WeightSource& w, const ExportOptions& o, bool with_past) {
  Builder g(o.opset, w, c, weight_prefix(w));
  GraphBuilder& b = g.b;
  const int64_t hd = c.dim / c.dec_heads;
  const Dim batch = dyn("batch_size"), dec_len = dyn("decoder_sequence_length"),
            enc_len = dyn("encoder_sequence_length");
  const Dim past_len_dim = dyn("past_decoder_sequence_length");
  const Dim total_dim = with_past ? dyn("past_decoder_sequence_length + decoder_sequence_length") : dec_len;
  std::string ids = b.input("input_ids", DType::I64, {batch, dec_len});
  std::string enc_mask = padding_mask(b, b.input("encoder_attention_mask", DType::I64, {batch, enc_len}));
  std::string enc_h;
  if (!with_past) enc_h = b.input("encoder_hidden_states", DType::F32, {batch, enc_len, fixed(c.dim)});
  std::vector<std::string> past;  // per layer: decoder key, value, encoder key, value
  for (int64_t l = 0; with_past && l < c.dec_layers; ++l)
    for (const char* kind : {"decoder.key", "decoder.value", "encoder.key", "encoder.value"}) {
      Dim seq = kind[0] == 'd' ? past_len_dim : enc_len;
      past.push_back(b.input(fmt::format("past_key_values.{}.{}", l, kind), DType::F32,
                             {batch, fixed(c.dec_heads), seq, fixed(hd)}));
    }

  std::string past_len = past_length(b, with_past ? past[0] : "");
  std::string x = g.embed("decoder", ids, past_len);
  std::string future = causal_future(b, past_len, dim_of(b, ids, 1));
  std::string causal = b.op("Where", {future, b.const_f32(kMin), b.const_f32(0.0f)});

  struct Present {
    std::string name, value;
    Dim seq;
  };
  std::vector<Present> presents;
  for (int64_t l = 0; l < c.dec_layers; ++l) {
    const std::string L = fmt::format("{}decoder.layers.{}.", g.P, l);
    const std::string out = fmt::format("present.{}.", l);
    x = g.residual(x, L + "self_attn_layer_norm", [&](const std::string& h) {
      auto [k, v] = g.key_value(L + "self_attn", h, c.dec_heads);
      if (with_past) {
        k = append_past(b, past[4 * l], k);
        v = append_past(b, past[4 * l + 1], v);
      }
      presents.push_back({out + "decoder.key", k, total_dim});
      presents.push_back({out + "decoder.value", v, total_dim});
      return g.attention(L + "self_attn", h, k, v, causal, c.dec_heads);
    });
    x = g.residual(x, L + "encoder_attn_layer_norm", [&](const std::string& h) {
      std::string k, v;
      if (with_past) {
        k = past[4 * l + 2];
        v = past[4 * l + 3];
      } else {
        std::tie(k, v) = g.key_value(L + "encoder_attn", enc_h, c.dec_heads);
        presents.push_back({out + "encoder.key", k, enc_len});
        presents.push_back({out + "encoder.value", v, enc_len});
      }
      return g.attention(L + "encoder_attn", h, k, v, enc_mask, c.dec_heads);
    });
    x = g.residual(x, L + "final_layer_norm", [&](const std::string& h) { return g.ffn(h, L, c.dec_ffn); });
  }
  if (c.pre_norm) x = g.norm(x, g.P + "decoder.layer_norm");

  // Tied: the lm_head reads the decoder's token table (the embedding Gather's initializer) through a
  // Transpose, so the table is stored once.
  std::string logits = c.tied ? b.linear_tied(x, g.token_table_names("decoder")[0])
                              : b.linear(x, w.get("lm_head.weight", {c.decoder_vocab, c.dim}), nullptr, "lm_head");
  // final_logits_bias is a buffer transformers initialises to zeros and checkpoints may omit.
  Tensor bias = w.has("final_logits_bias") ? w.get("final_logits_bias", {1, c.decoder_vocab})
                                           : Tensor::zeros(DType::F32, {1, c.decoder_vocab});
  logits = b.op("Add", {logits, b.initializer("final_logits_bias", bias)});
  b.output(logits, "logits", DType::F32, {batch, dec_len, fixed(c.decoder_vocab)});
  for (const Present& p : presents)
    b.output(p.value, p.name, DType::F32, {batch, fixed(c.dec_heads), p.seq, fixed(hd)});
  return b.finish();
}

std::vector<ExportedGraph> build_bart(const nlohmann::json& config, WeightSource& w, const ExportOptions& o) {
  BartConfig c = read_config(config);
  KILN_CHECK(o.task == "auto" || o.task == "text2text-generation", Unsupported,
             "{} export supports the task text2text-generation, not '{}'", c.type, o.task);
  std::vector<ExportedGraph> out;
  out.push_back({"encoder_model.onnx", build_encoder(c, w, o)});
  out.push_back({"decoder_model.onnx", build_decoder(c, w, o, false)});
  out.push_back({"decoder_with_past_model.onnx", build_decoder(c, w, o, true)});
  return out;
}

[[maybe_unused]] const bool registered_bart = register_architecture("bart", &build_bart, {"text2text-generation"});
[[maybe_unused]] const bool registered_mbart = register_architecture("mbart", &build_bart, {"text2text-generation"});
[[maybe_unused]] const bool registered_marian = register_architecture("marian", &build_bart, {"text2text-generation"});

}  // namespace
}  // namespace kiln::exporting
