// Graph rewrites run when a session is created. Each pass edits the IR in place and returns how
// many nodes it changed, so callers and tests can see that it did something.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "graph/graph.h"

namespace kiln {

// Computes a node's outputs from constant inputs; nullopt when it cannot (no kernel, error).
using NodeEvaluator =
    std::function<std::optional<std::vector<Tensor>>(const Node& node, const std::vector<const Tensor*>& inputs)>;

// Replaces every node whose inputs are all constants (initializers or Constant outputs) by
// initializers holding its outputs. Nodes with subgraphs and random ops are left alone, and so is
// a node whose outputs would be much larger than its inputs (e.g. a big ConstantOfShape).
int fold_constants(Graph& g, const NodeEvaluator& evaluate);

// Removes nodes whose outputs nobody reads (graph outputs and subgraph reads count as reads), and
// initializers nobody reads.
int remove_dead_nodes(Graph& g);

// Replaces each If whose condition is a one-element constant by the nodes of the branch it takes
// (passes/if_inlining.cc). Returns the Ifs inlined.
int inline_constant_ifs(Graph& g);

// Removes graph inputs that nothing reads any more (no node, subgraph or graph output). Returns how
// many went. For sessions with fixed inputs, whose other branch's inputs are then unread.
int remove_unread_inputs(Graph& g);

// Fusions (optimisation level 2), float32 graphs only. Each returns the number of fused groups.
// Decomposed LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add) -> LayerNormalization.
int fuse_layer_norm(Graph& g);
// T5's decomposed LayerNorm (Pow/ReduceMean/Add/Sqrt/Div or Reciprocal/Mul/Mul, no mean, no bias) ->
// com.microsoft SimplifiedLayerNormalization, the quotient rounded once.
int fuse_rms_norm(Graph& g);
// Erf-based GELU -> Gelu, or BiasGelu when a constant bias Add feeds it.
int fuse_gelu(Graph& g);
// MatMulInteger -> Cast(float) -> Mul(a_scale * b_scale) (the dynamic quantizer's output) ->
// com.microsoft MatMulIntegerToFloat.
int fuse_matmul_integer_to_float(Graph& g);
// MatMul(x, constant W) + Add(constant 1-D bias) -> kiln:MatMulBias (session-time only, never saved).
int fuse_matmul_bias(Graph& g);
// A product read only by a (Bias)Gelu takes it into its epilogue: kiln:MatMulBias or
// kiln:MatMulIntegerToFloat with attribute activation "Gelu" (session-time only, never saved).
int fuse_matmul_gelu(Graph& g);
// A float32 Conv read only by Relu / LeakyRelu / Clip / Sigmoid / Tanh / HardSigmoid / HardSwish ->
// com.microsoft:FusedConv {activation, activation_params} (the activation in oneDNN's epilogue).
int fuse_conv_activation(Graph& g);
// Regions of float32 2-D Convs and the element-wise ops between them run channels-last:
// kiln:NhwcConv, with kiln:Layout changes only where values enter or leave (returns the Conv count).
int conv_channels_last(Graph& g);
// Attention as torch.onnx.export writes it (Reshape/Transpose, MatMul, scale, mask Add/Where,
// Softmax, MatMul, Transpose; DistilBERT, BERT, T5, BART, GPT-2) -> kiln:Attention on the Reshape
// outputs (session-time only).
int fuse_attention(Graph& g);
// A decoder step's KV caches kept time-major and appended in place: Concat(past, new, axis 2) read
// by kiln:Attention -> kiln:KvAppend (passes/kv_cache_time_major.cc). Returns the caches changed.
// Session-time only (SessionOptions::kv_cache_in_place), after fuse_attention.
int keep_kv_cache_time_major(Graph& g);
// MatMulIntegerToFloat (no activation) read only by Add(., r) -> kiln:MatMulIntegerToFloat with r as
// input 7, added in the epilogue (the transformer's residual). Session-time only, never saved.
int fuse_matmul_integer_residual(Graph& g);
// kiln:MatMulBias (no activation) read only by Add(., r) -> kiln:MatMulBias with r as input 3, added
// after the bias in the epilogue (the transformer's residual, float32). Session-time only, never saved.
int fuse_matmul_bias_residual(Graph& g);
// DynamicQuantizeLinear of a value made by LayerNormalization, kiln:Attention or MatMulIntegerToFloat
// (through Reshapes) -> kiln:DynamicQuantizeLinear(x, range), the producer writing [min, max] of its
// output as one more output (attribute range_output). Session-time only, never saved.
int fuse_dynamic_quantize_range(Graph& g);
// DynamicQuantizeLinear read only as A of MatMulIntegerToFloat nodes with constant B (K a multiple
// of 4): all of them get attribute row_tiles = 1, the quantized values then pass in the VNNI
// product's row tiles (runtime/kernels/cpu/row_tiles.h). Session-time only, CPU sessions with VNNI.
int tile_quantized_activations(Graph& g);
// kiln:Attention whose q, k and v are Reshapes of three products of the same A (MatMulIntegerToFloat
// where `int8` says the session's int8 products run kiln's packed kernels, after
// tile_quantized_activations; or kiln:MatMulBias) takes the products in (attribute projections: the
// index of A among its inputs) and makes each sequence's q, k, v just before attending over it.
// Session-time only, CPU sessions (passes/attention_projection_fusion.cc). Returns the attentions
// changed.
int fuse_attention_projections(Graph& g, bool int8);

}  // namespace kiln
