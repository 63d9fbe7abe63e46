// Opset upgrades: raising a model's default-domain (ai.onnx) opset import together with the nodes
// whose schema changed in between (an opset-9 Clip keeps min/max as attributes, an opset-11 Clip
// reads them as inputs; raising only the import makes the file invalid).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace kiln {

struct OpsetUpgrade {
  int64_t from = 0;         // the default-domain import before
  int64_t to = 0;           // and after
  int nodes_rewritten = 0;  // nodes whose form changed (attribute -> input, op renamed, ...)
};

// Raises the default-domain opset import of `model` (subgraphs included) to `target`, rewriting
// every node whose schema changed between the two opsets (see docs/quantization.md, "Opset
// upgrades"), and raises the IR version to the lowest the target allows. A target at or below the
// current import changes nothing. Throws Unsupported, naming the node, its op and both opsets,
// before changing anything when a node changed in a way kiln cannot convert (or its op is unknown
// to kiln's operator history, or the target is newer than kiln knows).
OpsetUpgrade upgrade_opset(Model& model, int64_t target);

// How upgrade_opset treats the schema change of `op_type` at opset `since`.
enum class OpsetStep {
  NotAChange,  // `since` is not a version of the op (or is where it first appeared)
  Compatible,  // the node means the same under the new schema: left as it is
  Rewrite,     // converted (attributes to inputs, op renamed, removed attributes dropped)
  Refused,     // no conversion written: upgrade_opset throws Unsupported
};
OpsetStep opset_step(const std::string& op_type, int since);

// The changes with a conversion, as "Op@since" strings, and the refused ones (docs and tests).
std::vector<std::string> opset_rewrite_steps();
std::vector<std::string> opset_refused_steps();

}  // namespace kiln
