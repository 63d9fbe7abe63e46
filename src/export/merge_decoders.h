// decoder_model_merged.onnx from decoder_model.onnx and decoder_with_past_model.onnx, in Optimum's
// layout: the inputs of both plus a bool `use_cache_branch` [1]; one If node runs the with-past
// graph (then) or the no-past graph (else); initializers live once at the top level (identical
// tensors shared between the branches); the outputs are those of the no-past graph. Outputs the
// with-past graph lacks (cross-attention present.* of encoder-decoders) are passed through from the
// matching past_key_values.* inputs.
#pragma once
#include "graph/graph.h"

namespace kiln::exporting {

// Throws BadModel when an output of `no_past` is neither an output of `with_past` nor a present.*
// with a past_key_values.* input to pass through, or when shared input names disagree in type.
Model merge_decoders(const Model& no_past, const Model& with_past);

}  // namespace kiln::exporting
