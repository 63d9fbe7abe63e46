// `kiln run DIR "text"` without --task: the task comes from config.json's architectures (as
// transformers' pipeline(model=DIR) picks it), and the answers are the fixtures' transformers
// references (ref/e2e_expected.jsonl).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "test_util.h"

namespace fs = std::filesystem;
using kiln::test::fixture;
using kiln::test::shared_path;
using nlohmann::json;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A model folder: the fixture's graphs and config, and a tokenizer.txt naming the shared tokenizer.
fs::path model_folder(const fs::path& root, const std::string& model, const std::string& tok) {
  fs::path d = root / model;
  fs::create_directories(d);
  for (auto& e : fs::directory_iterator(fixture("models/" + model)))
    if (e.is_regular_file() && e.path().extension() != ".txt" && e.path().filename() != "model.safetensors")
      fs::copy_file(e.path(), d / e.path().filename());
  std::ofstream(d / "tokenizer.txt") << "use " << shared_path("data/tokenizers/" + tok) << "\n";
  return d;
}

}  // namespace

TEST(RunInfersTask, TextClassificationFromArchitectures) {
  KILN_REQUIRE(!shared_path("data/tokenizers/bert-base-uncased").empty(), "../shared/data/tokenizers");
  kiln::test::ScratchDir d("kiln-run-infer");
  fs::path m = model_folder(d.path, "distilbert-tiny-vocab", "bert-base-uncased");  // DistilBertForSequenceClassification
  auto want = lines(kiln::read_file(fixture("models/distilbert-tiny-vocab/ref/e2e_expected.jsonl")));
  ASSERT_FALSE(want.empty());
  for (size_t i : {0, 1, 2}) {
    json w = json::parse(want[i]);
    std::string out;
    ASSERT_EQ(0, kiln::test::run_command(kiln::test::kiln_binary() + " run " + m.string() + " --json '" +
                                             w["text"].get<std::string>() + "'",
                                         &out))
        << out;
    json r = json::parse(lines(out).back());
    EXPECT_EQ(r["label"], w["label"]) << out;
    EXPECT_NEAR(r["score"].get<double>(), w["score"].get<double>(), 1e-5) << out;
  }
}

TEST(RunInfersTask, Text2TextFromArchitectures) {
  KILN_REQUIRE(!shared_path("data/tokenizers/t5-small").empty(), "../shared/data/tokenizers");
  kiln::test::ScratchDir d("kiln-run-infer");
  fs::path m = model_folder(d.path, "t5-tiny-vocab", "t5-small");  // T5ForConditionalGeneration
  json w = json::parse(lines(kiln::read_file(fixture("models/t5-tiny-vocab/ref/e2e_expected.jsonl")))[0]);
  std::string out;
  ASSERT_EQ(0, kiln::test::run_command(kiln::test::kiln_binary() + " run " + m.string() +
                                           " --max-new-tokens 16 '" + w["text"].get<std::string>() + "'",
                                       &out))
      << out;
  EXPECT_EQ(lines(out).back(), w["generated_text"].get<std::string>()) << out;
}

TEST(RunInfersTask, UnknownArchitectureListsTasks) {
  kiln::test::ScratchDir d("kiln-run-infer");
  fs::copy_file(fixture("models/distilbert-tiny/model.onnx"), d.path / "model.onnx");
  std::ofstream(d.path / "config.json") << "{\"model_type\": \"distilbert\", \"architectures\": [\"Unheard\"]}";
  std::string out;
  int code = kiln::test::run_command(kiln::test::kiln_binary() + " run " + d.path.string() + " hello", &out);
  EXPECT_EQ(code, 3) << out;  // BadInput
  EXPECT_NE(out.find("cannot infer the task"), std::string::npos) << out;
  EXPECT_NE(out.find("Unheard"), std::string::npos) << out;
  EXPECT_NE(out.find("--task"), std::string::npos) << out;
  EXPECT_NE(out.find("text-classification"), std::string::npos) << out;
  EXPECT_NE(out.find("text2text-generation"), std::string::npos) << out;
}
