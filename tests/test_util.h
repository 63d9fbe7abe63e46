// Paths and comparisons shared by tests.
#pragma once
#include <filesystem>
#include <map>
#include <cstdint>
#include <string>

#include "core/tensor_json.h"
#include "graph/graph.h"
#include "kiln/session.h"

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
// A command killed by a signal returns -1 (never a plausible exit code).
int run_command(const std::string& cmd, std::string* out = nullptr);

// A fresh folder in the system's temp folder named after the process and the running test, removed
// with its contents when the object goes.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& prefix = "kiln");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// True under CI (the CI environment variable set to a non-empty value other than "false"/"0").
bool in_ci();

// Nodes of `g` (not its subgraphs) with this op type in this domain ("" and "ai.onnx" are one).
int count_op(const Graph& g, const std::string& domain, const std::string& op);

// A float32 tensor of seeded N(mean, std) values (std::mt19937, std::normal_distribution).
Tensor normal_tensor(const Shape& shape, uint32_t seed, float std, float mean = 0.f);

// build/peers, where scripts/install-peers puts ONNX Runtime and the JS tokenizers.
std::string peers_dir();
// build/peers/ort-run.js when ONNX Runtime's Node.js binding is installed, else "".
std::string ort_peer();

// Whether the ONNX Runtime peer is installed; when it is not, a test failure under CI (which installs
// it) and a loud note elsewhere. For checks against ONNX Runtime inside a larger test.
bool have_ort();

// Runs ONNX Runtime (build/peers/ort-run.js) on model with feeds; returns its outputs. Throws
// std::runtime_error with the peer's log when it fails. scratch is a folder for the JSON files;
// extra_args go to ort-run.js (e.g. "--opt disable").
NamedTensors run_ort(const std::string& model, const NamedTensors& feeds, const std::string& scratch,
                     const std::string& extra_args = "");

// Runs model in kiln (a Session with `options`, default ones unless given) and in ONNX Runtime on
// the same feeds; returns relative_error(kiln, ort) for every output ONNX Runtime gives (+inf when
// kiln lacks one).
std::map<std::string, double> kiln_vs_ort(const std::string& model, const NamedTensors& feeds,
                                          const std::string& scratch, const SessionOptions& options = {});

// Runs libonnx's checker (onnx::checker::check_model on the file, external data beside it
// resolved); throws onnx::checker::ValidationError saying what is invalid.
void onnx_check(const std::string& path);

}  // namespace kiln::test

// A test needs something outside the repository (a peer from npm, ../shared data). Missing it is a
// failure under CI (which reaches npm and has ../shared) and a loud skip elsewhere.
#define KILN_REQUIRE(cond, what)                                                              \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      if (::kiln::test::in_ci()) FAIL() << "CI must have: " << what;                          \
      GTEST_SKIP() << "SKIPPED (not under CI): missing " << what;                             \
    }                                                                                         \
  } while (0)

namespace kiln::test {

}  // namespace kiln::test
