// The conformance regression list: every ONNX backend test named in passing.txt (expected values
// come from ONNX's own test data in Debian's libonnx-testdata) must still pass. The list only grows:
// regenerate it with the command at the top of passing.txt and keep the old names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "eval/conformance.h"
#include "graph/onnx_io.h"

namespace kiln::test {
namespace {

const char* kData = "/usr/share/libonnx-testdata/data/";

std::vector<std::string> passing_list() {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/conformance/passing.txt");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    names.push_back(line);
  }
  return names;
}

TEST(Conformance, PassingListStillPasses) {
  auto names = passing_list();
  ASSERT_FALSE(names.empty()) << "tests/conformance/passing.txt is missing or empty";
  if (!std::filesystem::exists(kData)) GTEST_SKIP() << "libonnx-testdata is not installed (apt install libonnx-testdata)";
  int ran = 0;
  for (const auto& name : names) {
    std::string dir = std::string(kData) + name;
    if (!std::filesystem::exists(dir + "/model.onnx")) {
      ADD_FAILURE() << name << ": not in this libonnx-testdata";
      continue;
    }
    eval::ConformanceResult r = eval::run_conformance_test_isolated(dir);
    EXPECT_EQ(r.status, eval::ConformanceResult::Status::Pass) << name << ": " << eval::status_name(r.status) << " " << r.reason;
    ++ran;
  }
  EXPECT_EQ(ran, (int)names.size());
}

// The harness itself: a right answer passes, a wrong one fails, an unknown op skips naming it,
// and a broken folder fails without ending the run.
TEST(Conformance, HarnessPassesFailsAndSkips) {
  namespace fs = std::filesystem;
  std::string src = std::string(kData) + "node/test_concat_2d_axis_0";
  std::string other = std::string(kData) + "node/test_concat_2d_axis_1";
  if (!fs::exists(src) || !fs::exists(other)) GTEST_SKIP() << "libonnx-testdata is not installed";
  auto ok = eval::run_conformance_test(src);
  EXPECT_EQ(ok.name, "node/test_concat_2d_axis_0");
  EXPECT_EQ(ok.status, eval::ConformanceResult::Status::Pass) << ok.reason;

  fs::path tmp = fs::temp_directory_path() / ("kiln_conf_" + std::to_string(::getpid()));
  fs::path wrong = tmp / "test_wrong";
  fs::create_directories(wrong / "test_data_set_0");
  fs::copy_file(src + "/model.onnx", wrong / "model.onnx");
  for (const char* f : {"input_0.pb", "input_1.pb"})
    fs::copy_file(src + "/test_data_set_0/" + f, wrong / "test_data_set_0" / f);
  // the axis-1 answer for the axis-0 question: shapes differ
  fs::copy_file(other + "/test_data_set_0/output_0.pb", wrong / "test_data_set_0/output_0.pb");
  auto bad = eval::run_conformance_test_isolated(wrong.string());
  EXPECT_EQ(bad.name, tmp.filename().string() + "/test_wrong");
  EXPECT_EQ(bad.status, eval::ConformanceResult::Status::Fail);
  EXPECT_NE(bad.reason.find("shape"), std::string::npos) << bad.reason;

  Model m;
  m.set_opset("", 17);
  Node n;
  n.op_type = "NoSuchOp";
  n.inputs = {"x"};
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  ValueInfo x, y;
  x.name = "x";
  x.dtype = DType::F32;
  y.name = "y";
  m.graph.inputs.push_back(x);
  m.graph.outputs.push_back(y);
  fs::create_directories(tmp / "test_unknown");
  save_model(m, (tmp / "test_unknown" / "model.onnx").string());
  auto skip = eval::run_conformance_test((tmp / "test_unknown").string());
  EXPECT_EQ(skip.status, eval::ConformanceResult::Status::Skip);
  EXPECT_NE(skip.reason.find("NoSuchOp"), std::string::npos) << skip.reason;

  auto missing = eval::run_conformance_test((tmp / "no_such_test").string());
  EXPECT_EQ(missing.status, eval::ConformanceResult::Status::Fail);
  EXPECT_FALSE(missing.reason.empty());

  auto found = eval::find_conformance_tests({tmp.string()});
  EXPECT_EQ(found.size(), 2u);  // test_unknown and test_wrong, sorted
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace kiln::test
