// Every line of ../shared/data/tokenizers/*/expected.jsonl (made by the JavaScript port of Hugging
// Face tokenizers) must come out of kiln exactly: ids, tokens, masks, type ids, both decodes.
// And the legacy files of each model (vocab.txt; vocab.json + merges.txt; spiece.model) must give
// the same ids as its tokenizer.json.
#include <algorithm>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "tok_test_util.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/tokenizer.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// t5-small: lines whose two best segmentations score exactly the same (see the data README).
const std::set<int> kT5Ties = {225, 227, 228};

void check_folder(const std::string& name) {
  std::string dir = test::tokenizer_ref_dir(name);
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/" + name);
  auto tok = Tokenizer::from_dir(dir);
  auto* pipe = dynamic_cast<tokenizers::PipelineTokenizer*>(tok.get());
  ASSERT_NE(pipe, nullptr);
  auto rows = test::read_jsonl(dir + "/expected.jsonl");
  ASSERT_GT(rows.size(), 100u);
  int bad = 0;
  for (auto& r : rows) {
    int line = r["line"].get<int>();
    if (name == "t5-small" && kT5Ties.count(line)) continue;
    std::string text = r["text"].get<std::string>();
    Encoding e = tok->encode(text);
    std::vector<int64_t> want_ids = r["input_ids"].get<std::vector<int64_t>>();
    bool ok = e.ids == want_ids && e.tokens == r["tokens"].get<std::vector<std::string>>() &&
              e.attention_mask == r["attention_mask"].get<std::vector<int64_t>>();
    if (r.contains("token_type_ids")) ok = ok && pipe->has_type_ids() && e.type_ids == r["token_type_ids"].get<std::vector<int64_t>>();
    else ok = ok && !pipe->has_type_ids();
    if (!want_ids.empty()) {
      ok = ok && tok->decode(e.ids) == r["decoded"].get<std::string>();
      ok = ok && tok->decode(e.ids, true) == r["decoded_skip_special"].get<std::string>();
    }
    if (!ok && ++bad <= 5) ADD_FAILURE() << name << " line " << line << " differs: " << text;
  }
  EXPECT_EQ(bad, 0);
}

TEST(TokenizerReference, BertBaseUncased) { check_folder("bert-base-uncased"); }
TEST(TokenizerReference, Gpt2) { check_folder("gpt2"); }
TEST(TokenizerReference, RobertaBase) { check_folder("roberta-base"); }
TEST(TokenizerReference, T5Small) { check_folder("t5-small"); }

// Copies the folder's files except tokenizer.json into a scratch folder and loads that.
std::unique_ptr<Tokenizer> load_legacy(const std::string& dir, const std::string& name) {
  fs::path tmp = fs::temp_directory_path() / ("kiln-legacy-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (auto& f : fs::directory_iterator(dir))
    if (f.path().filename() != "tokenizer.json" && f.path().filename() != "expected.jsonl")
      fs::copy_file(f.path(), tmp / f.path().filename(), fs::copy_options::overwrite_existing);
  auto t = Tokenizer::from_dir(tmp.string());
  fs::remove_all(tmp);
  return t;
}

void check_legacy(const std::string& name) {
  std::string dir = test::tokenizer_ref_dir(name);
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/" + name);
  auto fast = Tokenizer::from_dir(dir);
  auto legacy = load_legacy(dir, name);
  auto rows = test::read_jsonl(dir + "/expected.jsonl");
  int bad = 0;
  for (auto& r : rows) {
    int line = r["line"].get<int>();
    if (name == "t5-small" && kT5Ties.count(line)) continue;
    std::string text = r["text"].get<std::string>();
    Encoding a = fast->encode(text), b = legacy->encode(text);
    if (a.ids != b.ids && ++bad <= 5) ADD_FAILURE() << name << " legacy line " << line << " differs: " << text;
    if (!a.ids.empty() && fast->decode(a.ids, true) != legacy->decode(b.ids, true) && ++bad <= 5)
      ADD_FAILURE() << name << " legacy decode line " << line;
  }
  EXPECT_EQ(bad, 0);
}

TEST(TokenizerLegacy, VocabTxtMatchesTokenizerJson) { check_legacy("bert-base-uncased"); }
TEST(TokenizerLegacy, VocabMergesMatchesTokenizerJsonGpt2) { check_legacy("gpt2"); }
TEST(TokenizerLegacy, VocabMergesMatchesTokenizerJsonRoberta) { check_legacy("roberta-base"); }
TEST(TokenizerLegacy, SpieceModelMatchesTokenizerJson) { check_legacy("t5-small"); }

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// encode_batch (parallel) gives what encode gives line by line; with padding, every row has the
// longest row's length and its attention mask marks the real tokens.
TEST(TokenizerBatch, BatchEqualsSequentialAndPads) {
  std::string dir = test::tokenizer_ref_dir("roberta-base");
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/roberta-base");
  auto tok = Tokenizer::from_dir(dir);
  std::vector<std::string> texts;
  for (auto& r : test::read_jsonl(dir + "/expected.jsonl")) texts.push_back(r["text"].get<std::string>());
  auto batch = tok->encode_batch(texts, true, std::nullopt, PaddingOptions{});
  ASSERT_EQ(batch.size(), texts.size());
  size_t longest = 0;
  for (auto& t : texts) longest = std::max(longest, tok->encode(t).size());
  for (size_t i = 0; i < texts.size(); ++i) {
    Encoding e = tok->encode(texts[i]);
    ASSERT_EQ(batch[i].size(), longest);
    EXPECT_EQ(std::vector<int64_t>(batch[i].ids.begin(), batch[i].ids.begin() + long(e.size())), e.ids);
    for (size_t k = e.size(); k < longest; ++k) {
      EXPECT_EQ(batch[i].ids[k], *tok->token_to_id("<pad>"));
      EXPECT_EQ(batch[i].attention_mask[k], 0);
    }
  }
  // roberta-base's vocab.json: "<pad>": 1.
  ASSERT_TRUE(tok->pad_token_id().has_value());
  ASSERT_TRUE(tok->token_to_id("<pad>").has_value());
  EXPECT_EQ(*tok->pad_token_id(), 1);
  EXPECT_EQ(*tok->token_to_id("<pad>"), 1);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// sentencepiece.bpe.model (XLM-RoBERTa's layout) uses fairseq ids: <s>=0 <pad>=1 </s>=2 <unk>=3,
// every SentencePiece piece from id 3 on moves up by one, <mask> comes last, and the text sits
// between <s> and </s>. The reference segmentation is the JS library's (t5-small's expected.jsonl,
// whose Unigram ids are spiece.model's piece ids, then </s>=1): on lines without an unknown piece
// or added token, the fairseq ids are <s>, each of those ids + 1, </s>.
TEST(TokenizerLegacy, FairseqSentencePieceIdsAreShiftedByOne) {
  std::string dir = test::tokenizer_ref_dir("t5-small");
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/t5-small");
  fs::path tmp = fs::temp_directory_path() / ("kiln-fairseq-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  fs::copy_file(fs::path(dir) / "spiece.model", tmp / "sentencepiece.bpe.model", fs::copy_options::overwrite_existing);
  auto xlmr = Tokenizer::from_dir(tmp.string());
  fs::remove_all(tmp);
  int checked = 0;
  for (auto& r : test::read_jsonl(dir + "/expected.jsonl")) {
    if (kT5Ties.count(r["line"].get<int>())) continue;
    std::string text = r["text"].get<std::string>();
    std::vector<int64_t> js = r["input_ids"].get<std::vector<int64_t>>();
    ASSERT_FALSE(js.empty());
    ASSERT_EQ(js.back(), 1) << "t5-small's expected ids end with </s>";
    js.pop_back();
    // <unk> is T5's id 2; T5's added tokens (<extra_id_N>, ids from 32000) are not pieces of the .model
    bool plain = !js.empty() && text.find('<') == std::string::npos &&
                 std::none_of(js.begin(), js.end(), [](int64_t id) { return id == 2 || id >= 32000; });
    if (!plain) continue;
    std::vector<int64_t> want = {0};
    for (int64_t id : js) want.push_back(id + 1);
    want.push_back(2);
    EXPECT_EQ(xlmr->encode(text).ids, want) << "line " << r["line"] << ": " << text;
    ++checked;
  }
  EXPECT_GE(checked, 158);  // lines of t5-small's expected.jsonl that qualify
  // t5-small's spiece.model holds 32,000 pieces: fairseq ids 4..32000, then <mask> = 32001.
  ASSERT_TRUE(xlmr->mask_token_id().has_value());
  ASSERT_TRUE(xlmr->token_to_id("<mask>").has_value());
  EXPECT_EQ(*xlmr->mask_token_id(), 32001);
  EXPECT_EQ(*xlmr->token_to_id("<mask>"), 32001);
}

}  // namespace
}  // namespace kiln
