// Runs one ONNX backend node test (model.onnx + test_data_set_0/{input,output}_N.pb from Debian's
// libonnx-testdata) through a kiln Session and compares every output with the expected one.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

namespace kiln::test {

inline const char* kOnnxNodeData = "/usr/share/libonnx-testdata/data/node/";

// Max relative error over the outputs of the named case. Without libonnx-testdata installed this is
// KILN_REQUIRE's failure under CI (a loud skip elsewhere); a case the installed data lacks fails.
inline void expect_onnx_node_case(const std::string& name, double tol = 1e-5) {
  namespace fs = std::filesystem;
  KILN_REQUIRE(fs::is_directory(kOnnxNodeData), "libonnx-testdata (" << kOnnxNodeData << ")");
  fs::path dir = fs::path(kOnnxNodeData) / name;
  ASSERT_TRUE(fs::exists(dir / "model.onnx")) << "libonnx-testdata has no " << name << " (renamed or removed case?)";
  Model model = load_model((dir / "model.onnx").string());
  NamedTensors feeds;
  std::vector<std::string> input_names;
  for (const auto& v : model.graph.inputs)
    if (!model.graph.is_initializer(v.name)) input_names.push_back(v.name);
  fs::path data = dir / "test_data_set_0";
  for (size_t i = 0;; ++i) {
    fs::path p = data / ("input_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    std::string tname;
    Tensor t = load_tensor_pb(p.string(), &tname);
    feeds[tname.empty() ? input_names.at(i) : tname] = t;
  }
  std::vector<std::string> output_names;
  for (const auto& v : model.graph.outputs) output_names.push_back(v.name);
  Session session(std::move(model));
  NamedTensors got = session.run(feeds);
  for (size_t i = 0; i < output_names.size(); ++i) {
    fs::path p = data / ("output_" + std::to_string(i) + ".pb");
    ASSERT_TRUE(fs::exists(p)) << p;
    Tensor want = load_tensor_pb(p.string());
    const Tensor& have = got.at(output_names[i]);
    EXPECT_EQ(have.dtype(), want.dtype()) << name << " output " << i;
    EXPECT_LE(relative_error(have, want), tol) << name << " output " << i;
  }
}

}  // namespace kiln::test
