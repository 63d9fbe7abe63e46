// The Precompiled normalizer: SentencePiece's compiled normalization rules (precompiled_charsmap),
// a darts-clone double-array trie over UTF-8 bytes whose leaves point into a table of replacement
// strings. Normalization takes, at each position, the longest rule that matches; text no rule
// matches is copied (malformed bytes become U+FFFD), as SentencePiece's normalizer does.
#include <algorithm>
#include <cstring>

#include <utf8proc.h>

#include "tokenizers/normalizers.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

class Precompiled : public Normalizer {
 public:
  Precompiled(std::string blob, const std::string& where) {
    if (blob.size() < 4) bad_field(where, "is too short to be a SentencePiece charsmap");
    uint32_t trie_size;
    std::memcpy(&trie_size, blob.data(), 4);
    if (trie_size % 4 != 0 || size_t(trie_size) + 4 > blob.size() || trie_size == 0)
      bad_field(where, "has a trie size that does not fit the data");
    units_.resize(trie_size / 4);
    std::memcpy(units_.data(), blob.data() + 4, trie_size);
    normalized_ = blob.substr(4 + size_t(trie_size));
  }

  void normalize(NString& s) const override {
    canonical_order(s);
    const std::string& t = s.text;
    NString out;
    out.text.reserve(t.size() + 8);
    out.align.reserve(t.size() + 8);
    for (size_t i = 0; i < t.size();) {
      size_t mlen = 0;
      uint32_t value = 0;
      longest_match(t, i, mlen, value);
      if (mlen > 0) {
        Align a = s.span(i, i + mlen);
        const char* r = normalized_.data() + value;
        size_t rl = strnlen(r, normalized_.size() - value);
        out.push(std::string_view(r, rl), a);
        i += mlen;
        continue;
      }
      size_t len;
      char32_t c = decode_utf8(t, i, len);
      Align a = s.span(i, i + len);
      if (c == 0xFFFD && !(len == 3 && t.compare(i, 3, "\xEF\xBF\xBD") == 0)) out.push("\xEF\xBF\xBD", a);
      else {
        out.text.append(t, i, len);
        out.align.insert(out.align.end(), s.align.begin() + i, s.align.begin() + i + len);
      }
      i += len;
    }
    s = std::move(out);
  }

 private:
  // Puts runs of combining marks in canonical order (by combining class, stable), as Unicode
  // normalization does before composing, so that "o + U+0302 + U+0323" finds the same rule as
  // "o + U+0323 + U+0302" (the reference applies NFKC here).
  static void canonical_order(NString& s) {
    const std::string& t = s.text;
    bool any = false;
    for (unsigned char c : t) if (c >= 0xCC) { any = true; break; }
    if (!any) return;
    struct Ch { size_t b, len; int ccc; };
    std::vector<Ch> run;
    auto flush = [&]() {
      if (run.size() > 1) {
        bool sorted = true;
        for (size_t k = 1; k < run.size(); ++k) sorted = sorted && run[k - 1].ccc <= run[k].ccc;
        if (!sorted) {
          std::vector<Ch> r = run;
          std::stable_sort(r.begin(), r.end(), [](const Ch& a, const Ch& b) { return a.ccc < b.ccc; });
          size_t at = run.front().b, end = run.back().b + run.back().len;
          std::string nt;
          std::vector<Align> na;
          for (auto& c : r) {
            nt.append(t, c.b, c.len);
            na.insert(na.end(), s.align.begin() + long(c.b), s.align.begin() + long(c.b + c.len));
          }
          s.text.replace(at, end - at, nt);
          std::copy(na.begin(), na.end(), s.align.begin() + long(at));
        }
      }
      run.clear();
    };
    for (size_t i = 0; i < t.size();) {
      size_t len;
      char32_t c = decode_utf8(t, i, len);
      int ccc = c < 0x300 ? 0 : utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
      if (ccc == 0) flush();
      else run.push_back({i, len, ccc});
      i += len;
    }
    flush();
  }

  static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t value_of(uint32_t u) { return u & 0x7FFFFFFFu; }
  static uint32_t label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
  static uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

  void longest_match(const std::string& t, size_t at, size_t& mlen, uint32_t& value) const {
    size_t pos = offset(units_[0]);
    for (size_t i = at; i < t.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(t[i]);
      pos ^= c;
      if (pos >= units_.size()) return;
      uint32_t u = units_[pos];
      if (label(u) != c) return;
      pos ^= offset(u);
      if (pos >= units_.size()) return;
      if (has_leaf(u)) {
        uint32_t v = value_of(units_[pos]);
        if (v < normalized_.size()) { mlen = i - at + 1; value = v; }
      }
    }
  }

  std::vector<uint32_t> units_;
  std::string normalized_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled_normalizer(std::string charsmap_bytes, const std::string& where) {
  return std::make_unique<Precompiled>(std::move(charsmap_bytes), where);
}

}  // namespace kiln::tokenizers
