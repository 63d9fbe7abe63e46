// Paths and comparisons shared by tests.
#pragma once
#include <string>

#include "core/tensor_json.h"

namespace kiln::test {

// tests/fixtures/<rel> in the source tree (committed reference models and tensors).
std::string fixture(const std::string& rel);
// ../shared/<rel> beside the repository, or "" when that folder is not there.
std::string shared_path(const std::string& rel);
// The kiln binary built beside the tests.
std::string kiln_binary();

// max|got - ref| / max(max|ref|, 1e-6); +inf when shapes or types differ.
double relative_error(const Tensor& got, const Tensor& ref);

// Runs a shell command; returns its exit status and fills out with stdout+stderr.
int run_command(const std::string& cmd, std::string* out = nullptr);

}  // namespace kiln::test
