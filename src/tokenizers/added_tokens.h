// Added tokens (special or not): found in the text before the model sees it, longest match first,
// left to right; with single_word, lstrip, rstrip and normalized as tokenizer.json sets them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/str_map.h"

namespace kiln::tokenizers {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false, special = false, normalized = false;
};

// Finds added-token contents in text: greedy longest match at each position.
class AddedSplitter {
 public:
  void add(const std::string& content, int32_t token_index);
  bool empty() const { return nodes_.size() <= 1; }
  struct Match {
    size_t b, e;
    int32_t token;  // index into the tokenizer's added-token list
  };
  // single_word checks need the token list.
  void find(std::string_view text, const std::vector<AddedToken>& tokens, std::vector<Match>& out) const;

 private:
  std::vector<int32_t> nodes_{-1};  // token index per trie node
  U64Map<uint32_t> edges_;
  bool first_byte_[256] = {};
};

}  // namespace kiln::tokenizers
