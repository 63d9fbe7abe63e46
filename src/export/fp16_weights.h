// `kiln export --dtype fp16`: weight-only float16 storage. Every float32 initializer of at least
// kMinFp16Elements elements (whose values fit float16's range) is stored as float16 under
// `<name>_fp16` and turned back into float32 `<name>` by a Cast at the top of its graph, so the
// file holds half the bytes while every node still computes in float32 (CPU runtimes lack float16
// kernels for most ops). kiln's constant folding turns the Casts back into float32 initializers at
// load.
#pragma once
#include <cstdint>

#include "graph/graph.h"

namespace kiln::exporting {

constexpr int64_t kMinFp16Elements = 16;

// Rewrites g (and the graphs of its If/Loop attributes) in place; returns the number of
// initializers now stored as float16.
int store_weights_fp16(Graph& g);

}  // namespace kiln::exporting
