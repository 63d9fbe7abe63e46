// Pieces the BERT-like encoders share (BERT, RoBERTa and its kin, ELECTRA, ALBERT, DistilBERT):
// the config fields, the attention mask, one post-LayerNorm encoder layer, activations and the
// task heads' outputs in Optimum's names and shapes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/graph_builder.h"
#include "export/weights.h"

namespace kiln::exporting::encoder {

// The tasks every BERT-like builder writes, with Optimum's ONNX outputs:
// feature-extraction (last_hidden_state), text-classification (logits [batch, labels]),
// token-classification (logits [batch, seq, labels]), question-answering (start_logits,
// end_logits [batch, seq]), fill-mask (logits [batch, seq, vocab]).
const std::vector<std::string>& tasks();

// config.json of a BERT-like model (BertConfig's names and defaults).
struct Config {
  int64_t vocab = 30522, hidden = 768, heads = 12, intermediate = 3072, layers = 12;
  int64_t embedding = 0;  // embedding_size; as a default, 0 means hidden_size
  int64_t positions = 512, type_vocab = 2, pad_id = 0, labels = 2;
  std::string activation = "gelu";  // hidden_act
  float eps = 1e-12f;               // layer_norm_eps
};
// Reads the fields above over `defaults`; `what` names the architecture in messages. Refuses activations other
// than gelu, gelu_new (gelu_pytorch_tanh), relu, and non-absolute position embeddings.
Config read_config(const nlohmann::json& c, const std::string& what, Config defaults = {});
// Labels of a classifier: id2label's size, else num_labels, else 2.
int64_t num_labels(const nlohmann::json& c);

// The activation by its transformers name (gelu, gelu_new, gelu_pytorch_tanh, relu, tanh).
std::string activation(GraphBuilder& b, const std::string& x, const std::string& name);
// A Linear layer `name` (name.weight [out, in], name.bias [out]) of the checkpoint.
std::string linear(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name, int64_t out,
                   int64_t in);
// A LayerNorm `name` (name.weight, name.bias of [dim]; name.gamma, name.beta in checkpoints
// converted from TensorFlow, as transformers renames them when loading).
std::string layer_norm(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name, int64_t dim,
                       float eps);

// The parameter names of one layer, relative to its prefix.
struct LayerNames {
  std::string query, key, value, attention_out, attention_norm, intermediate, output, output_norm;
};
extern const LayerNames kBertLayer;        // attention.self.query ... output.LayerNorm
extern const LayerNames kDistilBertLayer;  // attention.q_lin ... output_layer_norm
extern const LayerNames kAlbertLayer;      // attention.query ... full_layer_layer_norm

// attention_mask [batch, seq] (int64, 1 = attend) -> additive bias [batch, 1, 1, seq]: 0 where
// attended, the float32 minimum elsewhere (transformers' extended attention mask).
std::string attention_bias(GraphBuilder& b, const std::string& mask);

// One post-LayerNorm encoder layer: self-attention (scores scaled by 1/sqrt(head size)), residual,
// LayerNorm, feed-forward with `c.activation`, residual, LayerNorm.
std::string layer(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& bias,
                  const std::string& prefix, const LayerNames& n, const Config& c);

// "prefix" when the checkpoint stores the base model under it (the head classes), "" when it holds
// a bare model's weights; probe is a parameter every base model has.
std::string base_prefix(WeightSource& w, const std::string& prefix, const std::string& probe, const Shape& shape);

// How token types enter the embeddings: the token_type_ids input, row 0 of the table for models
// without that input (RoBERTa: transformers adds the buffered zeros), or no table (DistilBERT).
enum class TokenTypes { Input, FirstRow, None };

// BertEmbeddings and its copies: word + token type + position embeddings (all [*, c.embedding]),
// then LayerNorm; `prefix` is e.g. "bert.embeddings.".
std::string embeddings(GraphBuilder& b, WeightSource& w, const std::string& prefix, const Config& c,
                       const std::string& ids, TokenTypes types, const std::string& token_type_ids,
                       const std::string& position_ids);

// RoBERTa's position ids (create_position_ids_from_input_ids): pad tokens get pad_id, the others
// pad_id + their rank among the non-pad tokens of the row (pad_id + 1, pad_id + 2, ...).
std::string roberta_positions(GraphBuilder& b, const std::string& ids, int64_t pad_id);

// Graph inputs input_ids / attention_mask / token_type_ids [batch_size, sequence_length] int64.
std::vector<Dim> batch_seq();
// The hidden state of the first token: x[:, 0, :].
std::string first_token(GraphBuilder& b, const std::string& x);
// Positions 0..seq-1 of input_ids [batch, seq], as a [seq] int64 value.
std::string positions(GraphBuilder& b, const std::string& ids);

// Outputs of the heads that are the same for every BERT-like model.
void output_hidden_state(GraphBuilder& b, const std::string& x, int64_t hidden);
void output_token_logits(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name,
                         int64_t labels, int64_t hidden);  // token-classification: `name` is the Linear
void output_span_logits(GraphBuilder& b, WeightSource& w, const std::string& x, const std::string& name,
                        int64_t hidden);  // question-answering: `name` is the [2, hidden] Linear
void output_sequence_logits(GraphBuilder& b, const std::string& logits, int64_t labels);
// fill-mask: h [batch, seq, dim] times the word embeddings `table` [vocab, dim] (tied: stored once,
// transposed in the graph) plus `bias` [vocab].
void output_vocab_logits(GraphBuilder& b, WeightSource& w, const std::string& h, const std::string& table,
                         const std::string& bias, int64_t vocab, int64_t dim);

}  // namespace kiln::exporting::encoder
