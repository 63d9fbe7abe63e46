// --device on exec, run, bench and inspect --plan: the CPU by default (the plan has no copies), cuda
// refused with one line and exit code 4 when kiln is built without CUDA, an unknown name with exit 3.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

std::string kiln(const std::string& args) { return kiln::test::kiln_binary() + " " + args; }

std::string distilbert() { return kiln::test::fixture("models/distilbert-tiny"); }

std::string graph_args() { return distilbert() + "/model.onnx --inputs " + distilbert() + "/ref/case0_inputs.json"; }

// Exit code `code` and one line (stdout and stderr together) starting with `start`.
void expect_one_line(const std::string& args, int code, const std::string& start) {
  SCOPED_TRACE(args);
  std::string out;
  EXPECT_EQ(kiln::test::run_command(kiln(args), &out), code) << out;
  EXPECT_EQ(out.rfind("kiln: error: " + start, 0), 0u) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line expected: " << out;
}

TEST(DeviceCli, CudaIsRefusedWithOneLineWhenKilnHasNoCudaBackend) {
  const std::string no_cuda = "kiln was built without CUDA: ";
  expect_one_line("exec " + graph_args() + " --device cuda", 4, no_cuda);
  expect_one_line("bench " + graph_args() + " --device cuda:1 --repeat 1", 4, no_cuda);
  expect_one_line("run " + distilbert() + " --task text-classification --input-ids 101,102 --device cuda", 4, no_cuda);
  expect_one_line("inspect " + distilbert() + "/model.onnx --plan --device cuda:0", 4, no_cuda);
}

TEST(DeviceCli, UnknownDeviceNamesAreBadInput) {
  expect_one_line("exec " + graph_args() + " --device gpu", 3, "unknown device 'gpu'");
  expect_one_line("exec " + graph_args() + " --device cuda:x", 3, "unknown device 'cuda:x'");
}

TEST(DeviceCli, CpuIsTheDefaultAndSaysSo) {
  std::string out;
  ASSERT_EQ(kiln::test::run_command(kiln("exec " + graph_args() + " --device cpu"), &out), 0) << out;
  ASSERT_EQ(kiln::test::run_command(kiln("inspect --json --plan " + distilbert() + "/model.onnx"), &out), 0) << out;
  auto plan = nlohmann::json::parse(out)["plan"];
  EXPECT_EQ(plan["device"], "cpu");
  EXPECT_EQ(plan["copies"], 0);
  ASSERT_GT(plan["steps"].size(), 10u);
  for (const auto& st : plan["steps"]) EXPECT_EQ(st["device"], "cpu") << st.dump();
  ASSERT_EQ(kiln::test::run_command(kiln("inspect --plan " + distilbert() + "/model.onnx"), &out), 0) << out;
  EXPECT_NE(out.find("plan on cpu: "), std::string::npos) << out;
  EXPECT_NE(out.find(" 0 copies between devices"), std::string::npos) << out;
}

}  // namespace
