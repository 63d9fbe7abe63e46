// The command line end to end: outputs, exit codes and one-line errors on bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/tensor_json.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("kiln-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string kiln(const std::string& args) { return test::kiln_binary() + " " + args; }

// The last line of the command's output (stderr is merged).
std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

TEST(Cli, ExecWritesOutputsThatMatchTheReference) {
  fs::path d = temp_dir("exec");
  std::string m = test::fixture("models/bert-tiny");
  std::string out;
  ASSERT_EQ(0, test::run_command(kiln("exec " + m + "/model.onnx --inputs " + m + "/ref/case0_inputs.json --output " +
                                      (d / "out.json").string()),
                                 &out))
      << out;
  auto got = read_tensors_json((d / "out.json").string());
  auto ref = read_tensors_json(m + "/ref/case0_outputs.json");
  EXPECT_LE(test::relative_error(got.at("logits"), ref.at("logits")), 1e-4);
  fs::remove_all(d);
}

TEST(Cli, BadModelBytesExitTwoWithOneLine) {
  fs::path d = temp_dir("bad");
  std::string bytes = read_file(test::fixture("models/bert-tiny/model.onnx"));
  std::ofstream(d / "cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  std::ofstream(d / "junk.onnx", std::ios::binary) << "\x08\x07\xff\xfe not an onnx file at all";
  std::string inputs = test::fixture("models/bert-tiny/ref/case0_inputs.json");
  for (std::string f : {"cut.onnx", "junk.onnx"}) {
    std::string out;
    EXPECT_EQ(2, test::run_command(kiln("exec " + (d / f).string() + " --inputs " + inputs), &out)) << out;
    EXPECT_NE(out.find("is not a valid ONNX model"), std::string::npos) << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line expected: " << out;
  }
  fs::remove_all(d);
}

TEST(Cli, WrongFeedNamesTheInputAndWritesNothing) {
  fs::path d = temp_dir("feed");
  std::ofstream(d / "in.json") << R"({"input_ids": {"dtype": "float32", "dims": [1, 2], "data": [1, 2]},
                                      "attention_mask": {"dtype": "int64", "dims": [1, 2], "data": [1, 1]},
                                      "token_type_ids": {"dtype": "int64", "dims": [1, 2], "data": [0, 0]}})";
  std::string out;
  EXPECT_EQ(3, test::run_command(kiln("exec " + test::fixture("models/bert-tiny/model.onnx") + " --inputs " +
                                      (d / "in.json").string() + " --output " + (d / "out.json").string()),
                                 &out));
  EXPECT_NE(last_line(out).find("input 'input_ids' must be int64 but is float32"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(d / "out.json"));
  fs::remove_all(d);
}

TEST(Cli, InspectListsInterfaceAndMissingOps) {
  std::string out;
  ASSERT_EQ(0, test::run_command(kiln("inspect " + test::fixture("models/gpt2-tiny/decoder_with_past_model.onnx")), &out));
  EXPECT_NE(out.find("past_key_values.0.key"), std::string::npos) << out;
  EXPECT_NE(out.find("kiln can run every op in this model"), std::string::npos) << out;
  ASSERT_EQ(0, test::run_command(kiln("inspect --json " + test::fixture("models/bert-tiny/model_quantized.onnx")), &out));
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["ops"]["MatMulInteger"], 14);  // model_quantized_info.json's histogram
  EXPECT_EQ(j["opsets"]["ai.onnx"], 13);
  EXPECT_TRUE(j["unsupported_ops"].empty());
}

TEST(Cli, UnknownSubcommandOrFlagIsAUsageError) {
  std::string out;
  EXPECT_NE(0, test::run_command(kiln("no-such-command"), &out));
  EXPECT_NE(0, test::run_command(kiln("exec --no-such-flag"), &out));
}

}  // namespace
