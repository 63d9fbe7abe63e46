// Pre-tokenizers of tokenizer.json: BertPreTokenizer, ByteLevel, Metaspace, Whitespace,
// WhitespaceSplit, Split (regex + behaviours), Punctuation, Digits, Replace, FixedLength, Sequence.
// They cut (and for ByteLevel/Metaspace/Replace rewrite) the normalized text into pieces, keeping
// each byte's alignment to the original text.
#pragma once
#include <memory>
#include <string>

#include "tokenizers/json_util.h"
#include "tokenizers/normalized.h"

namespace kiln::tokenizers {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // section_index: which section (between added tokens) the text is, as the reference passes it
  // (Metaspace's prepend_scheme "first" uses it).
  virtual void pre_tokenize(PreTokenized& pt, int section_index) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where = "pre_tokenizer");
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
// prepend: "always" | "first" | "never"
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, std::string prepend, bool split);
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts);

// GPT-2's byte-to-character table (printable characters for all 256 byte values) and its inverse.
const std::string& byte_to_unicode(unsigned char b);
// -1 when the code point is not one of the 256.
int unicode_to_byte(char32_t c);

}  // namespace kiln::tokenizers
