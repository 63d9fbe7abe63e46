// The run that ends every export: each written graph is loaded from its file and run once in kiln
// on small feeds, and its outputs are held to the names, element types and shapes the builder
// declared. A mismatch is kiln's bug (InternalError), so it stops the export before anything is
// moved into place.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "graph/graph.h"

namespace kiln::exporting {

// Feeds for the declared inputs. Named dims: names with "batch" are 2, with "past" 3, sums
// ("past_sequence_length + 1") add up their parts, any other name is 8, except that a graph with a
// past (an input or dim named *past*) gets one new token: the symbol of input_ids' second dim is 1.
// Unnamed dims are 3 in a past input, 8 elsewhere. Token ids lie in [2, the smallest
// *vocab_size of config.json); attention masks are ones; token_type_ids and other integers 0; bools true (a merged
// decoder's use_cache_branch); floats small values.
NamedTensors check_feeds(const std::vector<ValueInfo>& inputs, const nlohmann::json& config);

// Runs the graph at `path` on feeds (made by check_feeds when empty) and compares every declared
// output: present, of its element type, of its rank, fixed dims equal, a symbolic dim equal to its
// value in the inputs (or, for a name no input has, the same wherever it appears).
void check_graph(const std::string& path, const std::vector<ValueInfo>& inputs, const std::vector<ValueInfo>& outputs,
                 const nlohmann::json& config, NamedTensors feeds);

}  // namespace kiln::exporting
