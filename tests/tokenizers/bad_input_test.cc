// Bad input: malformed UTF-8 reads as U+FFFD (what the reference's TextDecoder does); a malformed
// tokenizer.json gives one error that names the field.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tok_test_util.h"
#include "tokenizers/tokenizer.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A tiny WordPiece tokenizer.json written here, so these tests need no outside files.
nlohmann::json tiny() {
  return nlohmann::json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 0, "content": "[UNK]", "special": true, "normalized": false},
                     {"id": 1, "content": "[CLS]", "special": true, "normalized": false},
                     {"id": 2, "content": "[SEP]", "special": true, "normalized": false}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "ab": 3, "##c": 4, "\ufffd": 5, "d": 6}}
  })");
}

std::string write_tmp(const std::string& body) {
  fs::path d = fs::temp_directory_path() / ("kiln-badtok-" + std::to_string(::getpid()));
  fs::create_directories(d);
  std::ofstream(d / "tokenizer.json") << body;
  return (d / "tokenizer.json").string();
}

std::string error_of(const std::string& body) {
  try {
    Tokenizer::from_json_file(write_tmp(body));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerBadInput, TinyTokenizerWorks) {
  auto tok = Tokenizer::from_json_file(write_tmp(tiny().dump()));
  Encoding e = tok->encode("ABc d");
  EXPECT_EQ(e.ids, (std::vector<int64_t>{1, 3, 4, 6, 2}));
  EXPECT_EQ(tok->decode(e.ids, true), "abc d");
}

TEST(TokenizerBadInput, InvalidUtf8ReadsAsReplacementCharacters) {
  auto tok = Tokenizer::from_json_file(write_tmp(tiny().dump()));
  // \xFF and a truncated 3-byte sequence: one U+FFFD each (WHATWG decoding); BERT's clean_text then
  // drops U+FFFD, so what remains is "ab" and "d".
  Encoding bad = tok->encode("ab\xFF d\xE2\x82");
  Encoding good = tok->encode("ab\xEF\xBF\xBD d\xEF\xBF\xBD");
  EXPECT_EQ(bad.ids, good.ids);
  EXPECT_EQ(bad.ids, (std::vector<int64_t>{1, 3, 6, 2}));
  // Offsets stay in the bytes of the text as given: "d" is byte 4 of "ab\xFF d\xE2\x82".
  EXPECT_EQ(bad.offsets[1], (std::pair<size_t, size_t>(0, 2)));
  EXPECT_EQ(bad.offsets[2], (std::pair<size_t, size_t>(4, 5)));
}

TEST(TokenizerBadInput, MalformedJsonIsBadModel) {
  EXPECT_NE(error_of("{\"model\": ").find("not valid JSON"), std::string::npos);
}

TEST(TokenizerBadInput, ErrorsNameTheField) {
  auto j = tiny();
  j.erase("model");
  EXPECT_NE(error_of(j.dump()).find("model"), std::string::npos);

  j = tiny();
  j["model"]["unk_token"] = "<nope>";
  EXPECT_NE(error_of(j.dump()).find("model.unk_token"), std::string::npos);

  j = tiny();
  j["normalizer"]["type"] = "Frobnicate";
  EXPECT_NE(error_of(j.dump()).find("normalizer.type"), std::string::npos);

  j = tiny();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_NE(error_of(j.dump()).find("pre_tokenizer.pattern"), std::string::npos);

  j = tiny();
  j["added_tokens"][1]["id"] = "one";
  EXPECT_NE(error_of(j.dump()).find("added_tokens[1].id"), std::string::npos);

  j = tiny();
  j["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", {"a b"}}};
  EXPECT_NE(error_of(j.dump()).find("model.merges[0]"), std::string::npos);

  j = tiny();
  j["post_processor"] = {{"type", "BertProcessing"}, {"sep", "[SEP]"}, {"cls", {"[CLS]", 1}}};
  EXPECT_NE(error_of(j.dump()).find("post_processor.sep"), std::string::npos);
}

TEST(TokenizerBadInput, MissingFolderIsIoError) {
  try {
    Tokenizer::from_dir("/nonexistent/kiln/tokenizer");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not a folder"), std::string::npos);
  }
}

TEST(TokenizerTruncationPadding, PairTruncationAndPadding) {
  auto tok = Tokenizer::from_json_file(write_tmp(tiny().dump()));
  // "ab ab ab ab" = 4 tokens, "d d" = 2 tokens; [CLS] A [SEP] B [SEP] = 3 specials.
  Encoding e = tok->encode_pair("ab ab ab ab", "d d");
  ASSERT_EQ(e.size(), 9u);
  TruncationOptions t;
  t.max_length = 7;  // 4 for the sequences: longest_first takes from the longer one first
  tok->truncate(e, t, true);
  EXPECT_EQ(e.ids, (std::vector<int64_t>{1, 3, 3, 2, 6, 6, 2}));
  EXPECT_EQ(e.type_ids, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
  Encoding s = tok->encode("ab ab ab ab ab");
  TruncationOptions w;
  w.max_length = 5;  // 3 tokens per window
  w.stride = 1;
  tok->truncate(s, w, false);
  EXPECT_EQ(s.ids, (std::vector<int64_t>{1, 3, 3, 3, 2}));
  ASSERT_EQ(s.overflowing.size(), 1u);  // tokens 3..5 (one repeated)
  EXPECT_EQ(s.overflowing[0].ids, (std::vector<int64_t>{1, 3, 3, 3, 2}));
  std::vector<Encoding> batch = {tok->encode("ab"), tok->encode("ab ab ab")};
  PaddingOptions p;
  p.pad_id = 0;
  p.pad_token = "[UNK]";
  p.pad_to_multiple_of = 4;
  p.direction = "left";
  tok->pad(batch, p);
  EXPECT_EQ(batch[0].ids, (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 3, 2}));
  EXPECT_EQ(batch[0].attention_mask, (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(batch[1].ids, (std::vector<int64_t>{0, 0, 0, 1, 3, 3, 3, 2}));
}

}  // namespace
}  // namespace kiln
