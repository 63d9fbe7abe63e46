// Runs ONNX backend test folders (model.onnx + test_data_set_*/input_*.pb, output_*.pb) against
// kiln's runtime, comparing outputs as ONNX's backend test runner does.
#pragma once
#include <string>
#include <vector>

namespace kiln::eval {

struct ConformanceOptions {
  // numpy.testing.assert_allclose: |got - want| <= atol + rtol * |want|, NaN equals NaN.
  // These are the defaults of onnx/backend/test/runner.
  double rtol = 1e-3;
  double atol = 1e-7;
  int threads = 1;
  // Per-test limit in seconds when run isolated (0 = none).
  int timeout_s = 60;
};

struct ConformanceResult {
  enum class Status { Pass, Fail, Skip };
  std::string name;  // "<parent folder>/<test folder>", e.g. "node/test_add"
  Status status = Status::Fail;
  std::string reason;  // why it failed or was skipped (empty on pass)
};

const char* status_name(ConformanceResult::Status s);  // "pass", "fail", "skip"

// The test folders named by `paths`: a path holding model.onnx is one test; any other folder is
// searched one level down for tests. Sorted by name within each path. Throws IoError for a path
// that does not exist.
std::vector<std::string> find_conformance_tests(const std::vector<std::string>& paths);

// The name reported for a test folder.
std::string conformance_test_name(const std::string& dir);

// Runs one test in this process. Never throws: errors become a failed result.
ConformanceResult run_conformance_test(const std::string& dir, const ConformanceOptions& options = {});

// Runs one test in a child process, so a crash or a hang (options.timeout_s) fails that test only.
ConformanceResult run_conformance_test_isolated(const std::string& dir, const ConformanceOptions& options = {});

}  // namespace kiln::eval
