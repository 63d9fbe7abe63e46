// Offsets: each token's byte span must slice the original text to exactly what the token covers,
// for WordPiece (bert-base-uncased), byte-level BPE (roberta-base) and Unigram (t5-small), on
// accented, CJK and emoji text. "Covers" is checked from each model's definition: the slice,
// lowercased with accents stripped, is the WordPiece (minus "##"); the slice's bytes are the
// byte-level token's bytes (minus the leading space RoBERTa trims); the slice is the Unigram piece
// minus its "▁".
#include <algorithm>

#include <gtest/gtest.h>

#include "tok_test_util.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode.h"

namespace kiln {
namespace {

const std::vector<std::string> kTexts = {
    "Héllo wörld, naïve café!",
    "北京是中国的首都。東京都",
    "I love this 😍👍🏽 so much",
    "한국어 상품명 [특가] 갤럭시 S24",
    "  spaced   out\ttext  ",
};

std::string slice(const std::string& t, std::pair<size_t, size_t> o) { return t.substr(o.first, o.second - o.first); }

TEST(TokenizerOffsets, WordPieceSlicesCoverTheirTokens) {
  std::string dir = test::tokenizer_ref_dir("bert-base-uncased");
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/bert-base-uncased");
  auto tok = Tokenizer::from_dir(dir);
  // Literal case: "Héllo" is bytes 0..6 (é is two bytes) and becomes "hello".
  Encoding e0 = tok->encode("Héllo!", false);
  ASSERT_EQ(e0.tokens, (std::vector<std::string>{"hello", "!"}));
  EXPECT_EQ(e0.offsets[0], (std::pair<size_t, size_t>(0, 6)));
  EXPECT_EQ(e0.offsets[1], (std::pair<size_t, size_t>(6, 7)));
  for (const std::string& text : kTexts) {
    Encoding e = tok->encode(text);
    EXPECT_EQ(e.offsets.front(), (std::pair<size_t, size_t>(0, 0)));  // [CLS]
    for (size_t i = 0; i < e.size(); ++i) {
      if (e.special_tokens_mask[i]) continue;
      std::string s = slice(text, e.offsets[i]);
      std::string t = e.tokens[i].rfind("##", 0) == 0 ? e.tokens[i].substr(2) : e.tokens[i];
      if (t == "[UNK]") { EXPECT_FALSE(s.empty()); continue; }
      size_t l0;
      char32_t c0 = s.empty() ? 0 : tokenizers::decode_utf8(s, 0, l0);
      if (c0 >= 0xAC00 && c0 <= 0xD7A3 && l0 == s.size()) {
        // A Hangul syllable decomposes (NFD) into its jamo; each jamo token covers the syllable.
        uint32_t si = c0 - 0xAC00;
        std::vector<char32_t> jamo = {0x1100 + si / 588, 0x1161 + (si % 588) / 28};
        if (si % 28) jamo.push_back(0x11A7 + si % 28);
        size_t lt;
        char32_t ct = tokenizers::decode_utf8(t, 0, lt);
        EXPECT_TRUE(lt == t.size() && std::find(jamo.begin(), jamo.end(), ct) != jamo.end()) << "jamo token " << i << " of: " << text;
        continue;
      }
      // lowercase + NFD + drop nonspacing marks, by hand for the letters used here
      std::string n;
      for (size_t k = 0; k < s.size();) {
        size_t len;
        char32_t c = tokenizers::decode_utf8(s, k, len);
        if (c == U'é') n += "e";
        else if (c == U'ö') n += "o";
        else if (c == U'ï') n += "i";
        else if (c >= 'A' && c <= 'Z') n += char(c + 32);
        else n.append(s, k, len);
        k += len;
      }
      EXPECT_EQ(n, t) << "token " << i << " of: " << text;
    }
  }
}

TEST(TokenizerOffsets, ByteLevelSlicesAreTheTokenBytes) {
  std::string dir = test::tokenizer_ref_dir("roberta-base");
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/roberta-base");
  auto tok = Tokenizer::from_dir(dir);
  for (const std::string& text : kTexts) {
    Encoding e = tok->encode(text);
    std::string joined;
    for (size_t i = 0; i < e.size(); ++i) {
      if (e.special_tokens_mask[i]) continue;
      std::string bytes;
      const std::string& t = e.tokens[i];
      for (size_t k = 0; k < t.size();) {
        size_t len;
        bytes.push_back(char(tokenizers::unicode_to_byte(tokenizers::decode_utf8(t, k, len))));
        k += len;
      }
      std::string trimmed = bytes;
      size_t lead = trimmed.find_first_not_of(' ');
      if (lead != std::string::npos) trimmed = trimmed.substr(lead);
      EXPECT_EQ(slice(text, e.offsets[i]), trimmed) << "token " << i << " of: " << text;
      joined += bytes;
    }
    EXPECT_EQ(joined, text);  // byte-level covers every byte once
  }
}

TEST(TokenizerOffsets, UnigramSlicesAreThePieces) {
  std::string dir = test::tokenizer_ref_dir("t5-small");
  KILN_REQUIRE(!dir.empty(), "../shared/data/tokenizers/t5-small");
  auto tok = Tokenizer::from_dir(dir);
  const std::string meta = "\xE2\x96\x81";
  for (const std::string& text : kTexts) {
    if (text.find('[') != std::string::npos || text.find('\t') != std::string::npos) continue;
    Encoding e = tok->encode(text);
    for (size_t i = 0; i < e.size(); ++i) {
      if (e.special_tokens_mask[i]) continue;
      std::string t = e.tokens[i];
      if (t.rfind(meta, 0) == 0) t = t.substr(meta.size());
      std::string s = slice(text, e.offsets[i]);
      if (t.empty()) { EXPECT_FALSE(s.empty()) << "a lone ▁ covers the character it precedes"; continue; }
      EXPECT_EQ(s, t) << "token " << i << " of: " << text;
    }
  }
}

}  // namespace
}  // namespace kiln
