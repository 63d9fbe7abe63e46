// Which versions of each default-domain (ai.onnx) operator exist: the opset numbers at which ONNX
// introduced or changed an operator's schema, from ONNX's operator changelog (opsets 1 to 21).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

// The newest default-domain opset whose history kiln knows.
constexpr int64_t kNewestKnownOpset = 21;

// The opsets at which `op_type` got a new schema, ascending (the first is where it appeared);
// nullptr for an operator kiln does not know.
const std::vector<int>* opset_history(const std::string& op_type);

// Every operator in the history, sorted (for tests and docs).
std::vector<std::string> opset_history_ops();

// The lowest ONNX IR version a model importing `opset` must declare.
int64_t min_ir_version(int64_t opset);

}  // namespace kiln
