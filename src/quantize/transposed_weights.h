// Tied weights read through a Transpose: a tied lm_head (T5, BART, GPT-2) or a BERT-family MLM
// decoder computes x @ Transpose(table) so that the token-embedding table is stored once. The
// quantizer needs the product's weight as an initializer; these two steps give it one and take it
// back where the product stays float.
#pragma once
#include <functional>

#include "graph/graph.h"

namespace kiln::quantize {

// Each Transpose (perm [1, 0]) of a float 2-D initializer that feeds the weight input (B) of a node
// `wanted` accepts becomes a new initializer `<table>_transposed` in the graph that owns the table
// (subgraphs included); the products read it and a Transpose nothing reads any more is dropped.
// The table itself stays for its other readers (the embedding Gather). Returns how many were made.
int materialize_transposed_weights(Graph& g, const std::function<bool(const Node&)>& wanted);

// After quantization: a `<table>_transposed` initializer that is still read in float (the product
// was left float) and holds exactly the transpose of `<table>` becomes a Transpose node again, so
// the file stores the table once. Returns how many were turned back.
int restore_transposed_weights(Graph& g);

}  // namespace kiln::quantize
