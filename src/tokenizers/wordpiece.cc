// WordPiece: greedy longest-match-first over characters; "##"-prefixed pieces continue a word;
// a word with any unmatched rest (or longer than max_input_chars_per_word) is one [UNK].
#include "tokenizers/model.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

class WordPiece : public Model {
 public:
  WordPiece(WordPieceConfig c, const std::string& where) : prefix_(std::move(c.prefix)), max_chars_(c.max_chars) {
    vocab_.reserve(c.vocab.size());
    for (auto& [t, id] : c.vocab) {
      set_vocab_entry(t, id);
      if (!prefix_.empty() && t.size() > prefix_.size() && t.compare(0, prefix_.size(), prefix_) == 0) {
        cont_.set(std::string_view(t).substr(prefix_.size()), id);
        max_len_ = std::max(max_len_, t.size() - prefix_.size());
      } else {
        max_len_ = std::max(max_len_, t.size());
      }
    }
    unk_token_ = c.unk_token;
    const int32_t* u = vocab_.find(unk_token_);
    if (!u) bad_field(where + ".unk_token", "\"" + unk_token_ + "\" is not in the vocabulary");
    unk_id_ = *u;
  }

  void tokenize(std::string_view w, std::vector<ModelToken>& out) const override {
    size_t n = w.size();
    if (n > max_chars_ && count_chars(w) > max_chars_) { out.push_back({*unk_id_, 0, uint32_t(n)}); return; }
    size_t mark = out.size();
    size_t start = 0;
    while (start < n) {
      size_t end = std::min(n, start + max_len_);
      while (end < n && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;  // char boundary
      const int32_t* id = nullptr;
      while (end > start) {
        std::string_view sub = w.substr(start, end - start);
        id = start == 0 ? vocab_.find(sub) : (prefix_.empty() ? vocab_.find(sub) : cont_.find(sub));
        if (id) break;
        --end;
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      }
      if (!id) {
        out.resize(mark);
        out.push_back({*unk_id_, 0, uint32_t(n)});
        return;
      }
      out.push_back({*id, uint32_t(start), uint32_t(end)});
      start = end;
    }
  }

 private:
  std::string prefix_;
  size_t max_chars_;
  size_t max_len_ = 1;
  StrMap cont_;
};

class WordLevel : public Model {
 public:
  WordLevel(std::vector<std::pair<std::string, int32_t>> vocab, std::string unk, const std::string& where) {
    for (auto& [t, id] : vocab) set_vocab_entry(t, id);
    unk_token_ = std::move(unk);
    if (const int32_t* u = vocab_.find(unk_token_)) unk_id_ = *u;
  }
  void tokenize(std::string_view w, std::vector<ModelToken>& out) const override {
    if (const int32_t* id = vocab_.find(w)) out.push_back({*id, 0, uint32_t(w.size())});
    else if (unk_id_) out.push_back({*unk_id_, 0, uint32_t(w.size())});
  }
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(WordPieceConfig c, const std::string& where) { return std::make_unique<WordPiece>(std::move(c), where); }
std::unique_ptr<Model> make_wordlevel(std::vector<std::pair<std::string, int32_t>> vocab, std::string unk, const std::string& where) {
  return std::make_unique<WordLevel>(std::move(vocab), std::move(unk), where);
}

}  // namespace kiln::tokenizers
