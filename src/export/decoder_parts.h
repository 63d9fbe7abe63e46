// Graph pieces shared by the generative architectures (the BART family, GPT-2): config fields, activations by
// transformers' names, attention scores, additive masks and positions. Head split/merge and the
// key/value cache concat are in export/cached_attention.h (shared with T5).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/cached_attention.h"
#include "export/graph_builder.h"

namespace kiln::exporting {

// config.json's integer `key` (`dflt` when absent or null); BadModel unless it is a positive integer.
int64_t config_positive(const nlohmann::json& config, const char* key, int64_t dflt);

// A dynamic dimension named `name`, or a fixed one.
Dim dyn(const std::string& name);
Dim fixed(int64_t n);

// transformers' ACT2FN[name] applied to x: gelu (erf), gelu_new / gelu_pytorch_tanh (tanh
// approximation), gelu_fast, quick_gelu, relu, silu / swish, tanh, linear. Unsupported otherwise;
// `where` says which config field named it.
std::string activation(GraphBuilder& b, const std::string& x, const std::string& name);
// Throws Unsupported unless activation() knows `name`.
void check_activation(const std::string& name, const std::string& where);

// Size of axis `axis` of x, as an int64 scalar.
std::string dim_of(GraphBuilder& b, const std::string& x, int64_t axis);

// q @ k^T for [batch, heads, seq, head_dim] tensors.
std::string scores(GraphBuilder& b, const std::string& q, const std::string& k);
// softmax(scores, last axis) @ v, heads merged back to [batch, seq, heads * head_dim].
std::string attend(GraphBuilder& b, const std::string& scores, const std::string& v, int64_t heads, int64_t head_dim);

// An int64 [batch, seq] attention mask as the additive [batch, 1, 1, seq] float term
// transformers' encoder-decoders use: 0 where the mask is 1, the float32 minimum elsewhere.
std::string padding_mask(GraphBuilder& b, const std::string& mask);
// [new, past + new] bool: true where key j lies after query i (j > past + i), i.e. masked.
std::string causal_future(GraphBuilder& b, const std::string& past_len, const std::string& new_len);

// Positions past + arange(new) as int64 [new].
std::string positions(GraphBuilder& b, const std::string& past_len, const std::string& new_len);

}  // namespace kiln::exporting
