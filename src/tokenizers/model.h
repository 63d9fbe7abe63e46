// Tokenization models of tokenizer.json: WordPiece, BPE, Unigram, WordLevel. A model cuts one
// pre-tokenized piece into vocabulary tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/json_util.h"
#include "tokenizers/str_map.h"

namespace kiln::tokenizers {

struct ModelToken {
  int32_t id;
  uint32_t b, e;  // bytes of the piece this token covers
  // The token's text is the piece's bytes [b, e) (Unigram's unknown pieces) rather than the
  // vocabulary entry of id.
  bool raw = false;
  // For byte-fallback tokens: the byte, else -1 (their text is "<0xXX>").
  int16_t byte = -1;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view piece, std::vector<ModelToken>& out) const = 0;

  std::optional<int32_t> token_to_id(std::string_view t) const {
    const int32_t* v = vocab_.find(t);
    return v ? std::optional<int32_t>(*v) : std::nullopt;
  }
  const std::string* id_to_token(int64_t id) const {
    return id >= 0 && size_t(id) < id_to_tok_.size() && has_[size_t(id)] ? &id_to_tok_[size_t(id)] : nullptr;
  }
  size_t vocab_size() const { return vocab_.size(); }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  const std::string& unk_token() const { return unk_token_; }
  const std::string& end_of_word_suffix() const { return eow_suffix_; }
  // Added tokens join the model's vocabulary (as the reference does).
  void add_token(const std::string& t, int32_t id);

 protected:
  void set_vocab_entry(const std::string& t, int32_t id);
  StrMap vocab_;
  std::vector<std::string> id_to_tok_;
  std::vector<bool> has_;
  std::optional<int32_t> unk_id_;
  std::string unk_token_;
  std::string eow_suffix_;
};

std::unique_ptr<Model> make_model(const json& j, const std::string& where = "model");

struct WordPieceConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::string unk_token = "[UNK]";
  std::string prefix = "##";
  size_t max_chars = 100;
};
std::unique_ptr<Model> make_wordpiece(WordPieceConfig c, const std::string& where);

struct BpeConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix, end_of_word_suffix;
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
};
std::unique_ptr<Model> make_bpe(BpeConfig c, const std::string& where);

struct UnigramConfig {
  std::vector<std::pair<std::string, double>> vocab;
  std::optional<int32_t> unk_id;
  bool byte_fallback = false;
};
std::unique_ptr<Model> make_unigram(UnigramConfig c, const std::string& where);

std::unique_ptr<Model> make_wordlevel(std::vector<std::pair<std::string, int32_t>> vocab, std::string unk, const std::string& where);

}  // namespace kiln::tokenizers
