// Quantizes one in-memory model in place (all its graphs, subgraphs included).
#pragma once
#include "graph/graph.h"
#include "quantize/context.h"
#include "quantize/options.h"

namespace kiln::quantize {

// Rewrites every selected node (see options.h) and drops the float weights no node reads any
// more. `ranges` (value name -> calibrated min/max) is needed for static quantization.
// A model with nothing to quantize is left unchanged and the stats say so in `warnings`.
GraphStats quantize_model(Model& model, const Options& options, const Ranges* ranges = nullptr);

// Exporters such as paddle2onnx hold weights in Constant nodes instead of initializers. A Constant
// (a `value` tensor) read as a product's weight or a Gather's table becomes the initializer of the
// same name, so calibration and the quantizer see it like any other weight. quantize_model does
// this itself; call it before values_to_calibrate / calibrate too. Returns how many were promoted.
int promote_constant_weights(Graph& g);

// Tied weights (a T5/BART/GPT-2 lm_head, a BERT MLM decoder) are read as Transpose(table) so the
// table is stored once. For each MatMul/Gemm `options` selects, such a weight becomes the
// initializer `<table>_transposed` (see transposed_weights.h), so it is calibrated and quantized like
// any other; quantize_model does this itself (and turns the ones left float back into a Transpose),
// call it before values_to_calibrate / calibrate too. Returns how many initializers were made.
int materialize_tied_weights(Graph& g, const Options& options);

// The activations static quantization must calibrate for this model: the float inputs (and, for
// QOperator, outputs) of the nodes quantize_model would quantize.
std::vector<std::string> values_to_calibrate(const Model& model, const Options& options);

}  // namespace kiln::quantize
