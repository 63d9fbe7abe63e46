// kiln eval and kiln bench DIR on a generation task: t5-tiny-vocab with the real t5-small tokenizer
// files (../shared/data/tokenizers). The targets are transformers' reference outputs
// (ref/e2e_expected.jsonl) with " extra" appended to every third, so exact match, CER and WER follow
// by hand: each changed target is its output plus 6 characters and 1 word.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool have_tokenizer() { return !kiln::test::shared_path("data/tokenizers/t5-small").empty(); }

fs::path t5_folder(const fs::path& d) {
  fs::create_directories(d);
  for (auto& e : fs::directory_iterator(kiln::test::fixture("models/t5-tiny-vocab")))
    if (e.is_regular_file() && e.path().filename() != "tokenizer.txt") fs::copy_file(e.path(), d / e.path().filename());
  for (auto& e : fs::directory_iterator(kiln::test::shared_path("data/tokenizers/t5-small")))
    if (e.path().filename() != "expected.jsonl") fs::copy_file(e.path(), d / e.path().filename());
  return d;
}

json run_json(const std::string& args) {
  std::string out;
  int code = kiln::test::run_command(kiln::test::kiln_binary() + " " + args + " 2>&1", &out);
  EXPECT_EQ(code, 0) << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return json::parse(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t words(const std::string& s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

}  // namespace

TEST(GenerationCli, EvalScoresExactMatchCerAndWer) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/t5-small");
  kiln::test::ScratchDir d;
  fs::path m = t5_folder(d.path / "t5");
  std::ifstream in(kiln::test::fixture("models/t5-tiny-vocab/ref/e2e_expected.jsonl"));
  std::ofstream data(d.path / "data.jsonl");
  size_t n = 0, same = 0, changed = 0, ref_chars = 0, ref_words = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json x = json::parse(line);
    std::string target = x["generated_text"];
    if (n % 3 == 2) target += " extra", ++changed;
    else ++same;
    ref_chars += code_points(target);
    ref_words += words(target);
    data << json({{"text", x["text"]}, {"target", target}}).dump() << "\n";
    ++n;
  }
  data.close();
  ASSERT_EQ(n, 24u);
  json j = run_json("eval " + m.string() + " --data " + (d.path / "data.jsonl").string() +
                    " --task text2text-generation --max-new-tokens 16 --batch-size 4 --json");
  EXPECT_EQ(j["metric"], "exact_match");
  EXPECT_NEAR(j["exact_match"].get<double>(), (double)same / n, 1e-12);
  EXPECT_NEAR(j["cer"].get<double>(), 6.0 * changed / ref_chars, 1e-12);
  EXPECT_NEAR(j["wer"].get<double>(), 1.0 * changed / ref_words, 1e-12);
  EXPECT_EQ(j["samples"], n);
  EXPECT_FALSE(j.contains("per"));
  json per = run_json("eval " + m.string() + " --data " + (d.path / "data.jsonl").string() +
                      " --max-new-tokens 16 --metric per --limit 3 --json");  // task from config.json
  EXPECT_EQ(per["task"], "text2text-generation");
  EXPECT_NEAR(per["per"].get<double>(), per["wer"].get<double>(), 1e-15);
}

TEST(GenerationCli, BenchForcesEveryTokenAndTimesTheSteps) {
  KILN_REQUIRE(have_tokenizer(), "../shared/data/tokenizers/t5-small");
  kiln::test::ScratchDir d;
  fs::path m = t5_folder(d.path / "t5");
  json j = run_json("bench " + m.string() + " --task text2text-generation --batch-size 2 --seq-len 20 --samples 6 "
                    "--max-new-tokens 7 --json");
  for (const char* k : {"load_ms", "min_ms", "median_ms", "p90_ms", "samples_per_s", "peak_rss_mb", "encoder_ms",
                        "first_token_ms", "step_ms", "tokens_per_s", "threads"})
    EXPECT_GT(j.value(k, 0.0), 0.0) << k << " in " << j.dump();
  EXPECT_EQ(j["new_tokens"], 7);
  EXPECT_EQ(j["seq_len"], 20);
  EXPECT_EQ(j["input"], "text");
  // Every one of the 6 sequences got exactly 7 new tokens: tokens/s = 42 / total time.
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 42.0 / (j["total_ms"].get<double>() / 1000.0), 1e-6);
  EXPECT_LT(j["encoder_ms"].get<double>(), j["first_token_ms"].get<double>());
}
