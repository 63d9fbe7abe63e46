// Bad input to `kiln run` gives one clear line naming what is missing or expected, and a non-zero exit.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

using kiln::test::fixture;
namespace fs = std::filesystem;

namespace {
std::string run(const std::string& args, int* code) {
  std::string out;
  *code = kiln::test::run_command(kiln::test::kiln_binary() + " run " + args, &out);
  return out;
}
}  // namespace

TEST(RunErrors, UnknownTaskListsTheKnownOnes) {
  int code;
  std::string out = run(fixture("models/t5-tiny") + " --task summarise --input-ids 1,2", &code);
  EXPECT_EQ(code, 3);
  EXPECT_NE(out.find("unknown task 'summarise'"), std::string::npos) << out;
  EXPECT_NE(out.find("summarization"), std::string::npos) << out;
}

TEST(RunErrors, MissingGraphIsNamed) {
  fs::path d = fs::temp_directory_path() / "kiln-run-missing-graph";
  fs::remove_all(d);
  fs::create_directories(d);
  for (const char* f : {"config.json", "encoder_model.onnx"}) fs::copy_file(fixture(std::string("models/t5-tiny/") + f), d / f);
  int code;
  std::string out = run(d.string() + " --task text2text-generation --input-ids 1,2", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("decoder_model.onnx"), std::string::npos) << out;
  fs::remove(d / "config.json");
  out = run(d.string() + " --task text2text-generation --input-ids 1,2", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("config.json"), std::string::npos) << out;
  fs::remove_all(d);
}

TEST(RunErrors, ModelThatDoesNotFitTheTask) {
  int code;
  std::string out = run(fixture("models/t5-tiny") + " --task text-classification --input-ids 1,2", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("text2text-generation"), std::string::npos) << out;
  out = run(fixture("models/bert-tiny") + " --task text-generation --input-ids 1,2", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("token_type_ids"), std::string::npos) << out;
  out = run(fixture("models/gpt2-tiny") + " --task text2text-generation --input-ids 1,2", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("text-generation"), std::string::npos) << out;
}

TEST(RunErrors, NoTokenizerAndBadIds) {
  std::string out;
  int code = kiln::test::run_command("echo hello | " + kiln::test::kiln_binary() + " run " + fixture("models/t5-tiny") +
                                     " --task text2text-generation",
                                 &out);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("--input-ids"), std::string::npos) << out;
  out = run(fixture("models/t5-tiny") + " --task text2text-generation --input-ids 1,x", &code);
  EXPECT_EQ(code, 3);
  EXPECT_NE(out.find("'x'"), std::string::npos) << out;
}
