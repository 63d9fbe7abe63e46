// Normalizers of tokenizer.json: BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Strip,
// Replace, Prepend, Precompiled (SentencePiece charsmap), Sequence. Each keeps the alignment of
// every output byte to the original text.
#pragma once
#include <memory>
#include <string>

#include "tokenizers/json_util.h"
#include "tokenizers/normalized.h"

namespace kiln::tokenizers {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NString& s) const = 0;
};

// nullptr for a JSON null.
std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where = "normalizer");

// Building blocks the legacy loaders use directly.
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool chinese, int strip_accents /*-1 unset*/, bool lowercase);
std::unique_ptr<Normalizer> make_precompiled_normalizer(std::string charsmap_bytes, const std::string& where);
std::unique_ptr<Normalizer> make_replace_normalizer(const std::string& literal, const std::string& content);
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> parts);

// Unicode normalization of a whole string with alignments kept per character cluster.
enum class UForm { NFC, NFD, NFKC, NFKD };
void unicode_normalize(NString& s, UForm form);
void lowercase_js(NString& s);

}  // namespace kiln::tokenizers
