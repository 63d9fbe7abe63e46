#include "tokenizers/added_tokens.h"

#include "tokenizers/unicode.h"

namespace kiln::tokenizers {

void AddedSplitter::add(const std::string& content, int32_t token_index) {
  if (content.empty()) return;
  uint32_t n = 0;
  for (unsigned char c : content) {
    uint64_t key = (uint64_t(n) << 8) | c;
    const uint32_t* nx = edges_.find(key);
    if (nx) { n = *nx; continue; }
    uint32_t m = uint32_t(nodes_.size());
    nodes_.push_back(-1);
    edges_.set(key, m);
    n = m;
  }
  nodes_[n] = token_index;
  first_byte_[static_cast<unsigned char>(content[0])] = true;
}

namespace {
bool is_word_char(std::string_view t, size_t i, bool before) {
  if (before) {
    if (i == 0) return false;
    size_t k = i - 1;
    while (k > 0 && (static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) --k;
    size_t len;
    char32_t c = decode_utf8(t, k, len);
    return c == '_' || is_letter(c) || is_number(c);
  }
  if (i >= t.size()) return false;
  size_t len;
  char32_t c = decode_utf8(t, i, len);
  return c == '_' || is_letter(c) || is_number(c);
}
}  // namespace

void AddedSplitter::find(std::string_view t, const std::vector<AddedToken>& tokens, std::vector<Match>& out) const {
  if (empty()) return;
  for (size_t i = 0; i < t.size();) {
    if (!first_byte_[static_cast<unsigned char>(t[i])]) { ++i; continue; }
    uint32_t n = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < t.size(); ++j) {
      const uint32_t* nx = edges_.find((uint64_t(n) << 8) | static_cast<unsigned char>(t[j]));
      if (!nx) break;
      n = *nx;
      if (nodes_[n] >= 0) { best = nodes_[n]; best_end = j + 1; }
    }
    if (best >= 0 && tokens[size_t(best)].single_word && (is_word_char(t, i, true) || is_word_char(t, best_end, false))) best = -1;
    if (best >= 0) {
      out.push_back({i, best_end, best});
      i = best_end;
    } else {
      ++i;
    }
  }
}

}  // namespace kiln::tokenizers
