// Multi-head attention pieces for decoder builders (T5, and any encoder-decoder or decoder-only
// model with a key/value cache): head splitting, the attention product, and the past concat.
// Tensors between these calls are [batch, heads, sequence, head_dim].
#pragma once
#include <string>

#include "export/graph_builder.h"

namespace kiln::exporting {

// [batch, seq, heads * head_dim] -> [batch, heads, seq, head_dim].
std::string split_heads(GraphBuilder& b, const std::string& x, int64_t heads, int64_t head_dim);
// [batch, heads, seq, head_dim] -> [batch, seq, heads * head_dim].
std::string merge_heads(GraphBuilder& b, const std::string& x, int64_t heads, int64_t head_dim);
// softmax(q @ k^T * scale + bias) @ v. `bias` ("" for none) broadcasts to [batch, heads, q_seq, k_seq];
// a scale of 1 adds no Mul.
std::string attention_product(GraphBuilder& b, const std::string& q, const std::string& k, const std::string& v,
                              const std::string& bias, float scale = 1.0f);
// The cache for this step: past (from past_key_values.*) followed by the new keys or values along the
// sequence axis; `now` alone when past is "".
std::string append_past(GraphBuilder& b, const std::string& past, const std::string& now);
// Length of the cached sequence (axis 2 of a past key), as an int64 scalar; 0 when past is "".
std::string past_length(GraphBuilder& b, const std::string& past);

}  // namespace kiln::exporting
