// Text that remembers where each of its bytes came from in the original input, so every token
// can report the span of the original text it covers (offsets), whatever normalizers and
// pre-tokenizers did to it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tokenizers {

struct Align {
  uint32_t b, e;  // byte span [b, e) in the original text
};

struct NString {
  std::string text;
  std::vector<Align> align;  // one per byte of text

  static NString from(std::string_view s, uint32_t base) {
    NString n;
    n.text.assign(s);
    n.align.resize(s.size());
    for (uint32_t i = 0; i < s.size(); ++i) n.align[i] = {base + i, base + i + 1};
    return n;
  }
  // Span of original text covered by bytes [b, e) of this text.
  Align span(size_t b, size_t e) const {
    if (b >= e || e > align.size()) return b < align.size() ? Align{align[b].b, align[b].b} : Align{0, 0};
    return {align[b].b, align[e - 1].e};
  }
  void push(std::string_view bytes, Align a) {
    text.append(bytes);
    align.insert(align.end(), bytes.size(), a);
  }
  void push_byte(char c, Align a) { text.push_back(c); align.push_back(a); }
  NString sub(size_t b, size_t e) const {
    NString n;
    n.text = text.substr(b, e - b);
    n.align.assign(align.begin() + b, align.begin() + e);
    return n;
  }
  bool empty() const { return text.empty(); }
};

// The pieces a pre-tokenizer cut a text into: byte ranges of one shared buffer.
struct Piece {
  uint32_t b, e;
};
struct PreTokenized {
  NString s;
  std::vector<Piece> pieces;
};

}  // namespace kiln::tokenizers
