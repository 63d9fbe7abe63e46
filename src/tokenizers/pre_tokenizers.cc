#include "tokenizers/pre_tokenizers.h"

#include <array>

#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

// Applies a splitter to every piece: split(text of piece, ranges relative to the piece).
template <class F>
void split_pieces(PreTokenized& pt, F split) {
  std::vector<Piece> out;
  out.reserve(pt.pieces.size() * 2);
  Ranges r;
  for (Piece p : pt.pieces) {
    r.clear();
    split(std::string_view(pt.s.text).substr(p.b, p.e - p.b), r);
    for (auto [b, e] : r)
      if (e > b) out.push_back({uint32_t(p.b + b), uint32_t(p.b + e)});
  }
  pt.pieces.swap(out);
}

// Runs of characters by class: emit(b, e) for each maximal run whose class keep(cls) holds.
template <class Cls, class Keep>
void runs(std::string_view t, Ranges& out, Cls cls, Keep keep) {
  size_t i = 0;
  while (i < t.size()) {
    size_t len;
    char32_t c = decode_utf8(t, i, len);
    int k = cls(c);
    size_t j = i + len;
    while (j < t.size()) {
      size_t l2;
      char32_t c2 = decode_utf8(t, j, l2);
      if (cls(c2) != k) break;
      j += l2;
    }
    if (keep(k)) out.emplace_back(i, j);
    i = j;
  }
}

class BertPre : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& pt, int) const override {
    split_pieces(pt, [](std::string_view t, Ranges& r) {
      size_t i = 0, start = std::string_view::npos;
      while (i < t.size()) {
        size_t len;
        char32_t c = decode_utf8(t, i, len);
        if (is_js_space(c)) {
          if (start != std::string_view::npos) { r.emplace_back(start, i); start = std::string_view::npos; }
        } else if (is_bert_punct(c)) {
          if (start != std::string_view::npos) { r.emplace_back(start, i); start = std::string_view::npos; }
          r.emplace_back(i, i + len);
        } else if (start == std::string_view::npos) {
          start = i;
        }
        i += len;
      }
      if (start != std::string_view::npos) r.emplace_back(start, t.size());
    });
  }
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& pt, int) const override {
    split_pieces(pt, [](std::string_view t, Ranges& r) {
      runs(t, r, [](char32_t c) { return is_js_space(c) ? 1 : 0; }, [](int k) { return k == 0; });
    });
  }
};

// The reference's Whitespace: /\w+|[^\w\s]+/ with JavaScript's ASCII-only \w.
class Whitespace : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& pt, int) const override {
    split_pieces(pt, [](std::string_view t, Ranges& r) {
      runs(t, r, [](char32_t c) {
        if (c < 0x80 && (c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) return 1;
        return is_js_space(c) ? 0 : 2;
      }, [](int k) { return k != 0; });
    });
  }
};

class Punctuation : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& pt, int) const override {
    split_pieces(pt, [](std::string_view t, Ranges& r) {
      runs(t, r, [](char32_t c) { return is_bert_punct(c) ? 1 : 0; }, [](int) { return true; });
    });
  }
};

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void pre_tokenize(PreTokenized& pt, int) const override {
    bool ind = individual_;
    split_pieces(pt, [ind](std::string_view t, Ranges& r) {
      Ranges tmp;
      runs(t, tmp, [](char32_t c) { return c >= '0' && c <= '9' ? 1 : 0; }, [](int) { return true; });
      for (auto [b, e] : tmp) {
        if (ind && t[b] >= '0' && t[b] <= '9') for (size_t i = b; i < e; ++i) r.emplace_back(i, i + 1);
        else r.emplace_back(b, e);
      }
    });
  }

 private:
  bool individual_;
};

class FixedLength : public PreTokenizer {
 public:
  explicit FixedLength(size_t n) : n_(n ? n : 5) {}
  void pre_tokenize(PreTokenized& pt, int) const override {
    size_t n = n_;
    split_pieces(pt, [n](std::string_view t, Ranges& r) {
      size_t i = 0, start = 0, count = 0;
      while (i < t.size()) {
        size_t len;
        decode_utf8(t, i, len);
        i += len;
        if (++count == n) { r.emplace_back(start, i); start = i; count = 0; }
      }
      if (start < t.size()) r.emplace_back(start, t.size());
    });
  }

 private:
  size_t n_;
};

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class Split : public PreTokenizer {
 public:
  Split(std::unique_ptr<Pattern> p, Behavior b, bool invert) : p_(std::move(p)), b_(b), invert_(invert) {}
  void pre_tokenize(PreTokenized& pt, int) const override {
    split_pieces(pt, [this](std::string_view t, Ranges& r) {
      Ranges m;
      p_->find_all(t, m);
      if (invert_) {  // the reference keeps only the matches
        for (auto x : m) if (x.second > x.first) r.push_back(x);
        return;
      }
      // Segments: (begin, end, is_match).
      struct Seg { size_t b, e; bool match; };
      std::vector<Seg> segs;
      size_t pos = 0;
      for (auto [b, e] : m) {
        if (e == b) continue;
        if (b > pos) segs.push_back({pos, b, false});
        segs.push_back({b, e, true});
        pos = e;
      }
      if (pos < t.size()) segs.push_back({pos, t.size(), false});
      switch (b_) {
        case Behavior::Removed:
          for (auto& s : segs) if (!s.match) r.emplace_back(s.b, s.e);
          break;
        case Behavior::Isolated:
          for (auto& s : segs) r.emplace_back(s.b, s.e);
          break;
        case Behavior::MergedWithPrevious:
          for (auto& s : segs) {
            if (s.match && !r.empty() && r.back().second == s.b && !prev_match_) r.back().second = s.e;
            else r.emplace_back(s.b, s.e);
          }
          break;
        case Behavior::MergedWithNext: {
          bool pending = false;
          for (auto& s : segs) {
            if (pending) { r.back().second = s.e; pending = s.match; continue; }
            r.emplace_back(s.b, s.e);
            pending = s.match;
          }
          break;
        }
        case Behavior::Contiguous: {
          bool last_match = false;
          for (auto& s : segs) {
            if (s.match && last_match && !r.empty()) r.back().second = s.e;
            else r.emplace_back(s.b, s.e);
            last_match = s.match;
          }
          break;
        }
      }
    });
  }

 private:
  std::unique_ptr<Pattern> p_;
  Behavior b_;
  bool invert_;
  static constexpr bool prev_match_ = false;
};

// Rewrites every piece's text with f(text view, alignment, out NString); pieces keep their order.
template <class F>
void rewrite_pieces(PreTokenized& pt, F f) {
  PreTokenized out;
  out.s.text.reserve(pt.s.text.size() * 2);
  out.s.align.reserve(pt.s.text.size() * 2);
  out.pieces.reserve(pt.pieces.size());
  for (Piece p : pt.pieces) {
    uint32_t b = uint32_t(out.s.text.size());
    f(p, out.s);
    uint32_t e = uint32_t(out.s.text.size());
    if (e > b) out.pieces.push_back({b, e});
  }
  pt = std::move(out);
}

class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string rep, std::string prepend, bool split) : rep_(std::move(rep)), prepend_(std::move(prepend)), split_(split) {}
  void pre_tokenize(PreTokenized& pt, int section_index) const override {
    bool add = prepend_ == "always" || (prepend_ == "first" && section_index == 0);
    rewrite_pieces(pt, [&](Piece p, NString& out) {
      const NString& s = pt.s;
      size_t start = out.text.size();
      std::string_view t(s.text.data() + p.b, p.e - p.b);
      bool starts_rep = t.substr(0, 1) == " " || t.substr(0, rep_.size()) == rep_;
      if (add && !starts_rep && !t.empty()) {
        size_t len;
        decode_utf8(t, 0, len);
        out.push(rep_, s.span(p.b, p.b + len));
      }
      for (size_t i = p.b; i < p.e; ++i) {
        if (s.text[i] == ' ') out.push(rep_, s.align[i]);
        else out.push_byte(s.text[i], s.align[i]);
      }
      (void)start;
    });
    if (split_) {
      // Split before each replacement character (the piece keeps its leading one).
      std::string rep = rep_;
      split_pieces(pt, [&rep](std::string_view t, Ranges& r) {
        size_t start = 0;
        for (size_t pos = t.find(rep, 1); pos != std::string_view::npos; pos = t.find(rep, pos + rep.size())) {
          if (pos > start) r.emplace_back(start, pos);
          start = pos;
        }
        r.emplace_back(start, t.size());
      });
    }
  }

 private:
  std::string rep_, prepend_;
  bool split_;
};

struct ByteTable {
  std::array<std::string, 256> enc;
  std::array<int, 512> dec;
  ByteTable() {
    dec.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
      append_utf8(enc[b], cp);
      dec[cp] = b;
    }
  }
};
const ByteTable& table() {
  static const ByteTable t;
  return t;
}

// GPT-2's pattern as the reference compiles it:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+   (JavaScript \s)
void gpt2_split(std::string_view t, Ranges& r) {
  auto at = [&](size_t i, size_t& len) -> char32_t { return decode_utf8(t, i, len); };
  auto cls = [](char32_t c) -> int {  // 0 space, 1 letter, 2 number, 3 other
    if (c < 0x80) {
      if (c == ' ' || (c >= 9 && c <= 13)) return 0;
      if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
      if (c >= '0' && c <= '9') return 2;
      return 3;
    }
    if (is_js_space(c)) return 0;
    if (is_letter(c)) return 1;
    if (is_number(c)) return 2;
    return 3;
  };
  size_t n = t.size();
  size_t i = 0;
  while (i < n) {
    if (t[i] == '\'' && i + 1 < n) {
      char a = t[i + 1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') { r.emplace_back(i, i + 2); i += 2; continue; }
      if (i + 2 < n) {
        char b = t[i + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) { r.emplace_back(i, i + 3); i += 3; continue; }
      }
    }
    size_t len;
    char32_t c = at(i, len);
    int k = cls(c);
    size_t start = i, j = i;
    if (c == ' ' && i + 1 < n) {
      size_t l2;
      char32_t c2 = at(i + 1, l2);
      int k2 = cls(c2);
      if (k2 != 0) { k = k2; j = i + 1; }
    }
    if (k != 0) {
      while (j < n) {
        size_t l2;
        char32_t c2 = at(j, l2);
        if (cls(c2) != k) break;
        j += l2;
      }
      r.emplace_back(start, j);
      i = j;
      continue;
    }
    // whitespace run [i, j)
    size_t last = i;
    j = i;
    while (j < n) {
      size_t l2;
      char32_t c2 = at(j, l2);
      if (cls(c2) != 0) break;
      last = j;
      j += l2;
    }
    if (j < n && last > i) j = last;  // \s+(?!\S): leave the last space for the next word
    r.emplace_back(i, j);
    i = j;
  }
}

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool prefix, bool regex) : prefix_(prefix), regex_(regex) {}
  void pre_tokenize(PreTokenized& pt, int) const override {
    if (prefix_) {
      rewrite_pieces(pt, [&](Piece p, NString& out) {
        const NString& s = pt.s;
        if (p.e > p.b && s.text[p.b] != ' ') out.push(" ", s.span(p.b, p.b + 1));
        out.text.append(s.text, p.b, p.e - p.b);
        out.align.insert(out.align.end(), s.align.begin() + p.b, s.align.begin() + p.e);
      });
    }
    if (regex_) split_pieces(pt, gpt2_split);
    const ByteTable& tb = table();
    rewrite_pieces(pt, [&](Piece p, NString& out) {
      for (size_t i = p.b; i < p.e; ++i) out.push(tb.enc[static_cast<unsigned char>(pt.s.text[i])], pt.s.align[i]);
    });
  }

 private:
  bool prefix_, regex_;
};

class ReplacePre : public PreTokenizer {
 public:
  ReplacePre(std::unique_ptr<Pattern> p, std::string content) : p_(std::move(p)), content_(std::move(content)) {}
  void pre_tokenize(PreTokenized& pt, int) const override {
    Ranges m;
    rewrite_pieces(pt, [&](Piece p, NString& out) {
      const NString& s = pt.s;
      m.clear();
      p_->find_all(std::string_view(s.text).substr(p.b, p.e - p.b), m);
      size_t pos = p.b;
      for (auto [b, e] : m) {
        b += p.b;
        e += p.b;
        out.text.append(s.text, pos, b - pos);
        out.align.insert(out.align.end(), s.align.begin() + pos, s.align.begin() + b);
        if (e > b) out.push(content_, s.span(b, e));
        pos = e;
      }
      out.text.append(s.text, pos, p.e - pos);
      out.align.insert(out.align.end(), s.align.begin() + pos, s.align.begin() + p.e);
    });
  }

 private:
  std::unique_ptr<Pattern> p_;
  std::string content_;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> v) : v_(std::move(v)) {}
  void pre_tokenize(PreTokenized& pt, int si) const override {
    for (auto& p : v_) if (p) p->pre_tokenize(pt, si);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> v_;
};

}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return table().enc[b]; }
int unicode_to_byte(char32_t c) { return c < 512 ? table().dec[c] : -1; }

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() { return std::make_unique<BertPre>(); }
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPre>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, std::string prepend, bool split) {
  return std::make_unique<Metaspace>(std::move(replacement), std::move(prepend), split);
}
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer() { return std::make_unique<WhitespaceSplit>(); }
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) {
  return std::make_unique<SequencePre>(std::move(parts));
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = type_of(j, where);
  if (type == "BertPreTokenizer") return make_bert_pre_tokenizer();
  if (type == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "Punctuation") return std::make_unique<Punctuation>();
  if (type == "Digits") return std::make_unique<Digits>(opt_bool(j, "individual_digits", where, false));
  if (type == "FixedLength") return std::make_unique<FixedLength>(size_t(opt_int(j, "length", where, 5)));
  if (type == "ByteLevel")
    return make_byte_level_pre_tokenizer(opt_bool(j, "add_prefix_space", where, false), opt_bool(j, "use_regex", where, true));
  if (type == "Metaspace") {
    std::string rep = opt_str(j, "replacement", where, "\xE2\x96\x81");
    std::string scheme = opt_str(j, "prepend_scheme", where, "");
    if (scheme.empty()) scheme = opt_bool(j, "add_prefix_space", where, true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never")
      bad_field(where + ".prepend_scheme", "must be \"always\", \"first\" or \"never\"");
    // The reference does not split on the replacement character (Unigram and BPE see whole
    // sections), so neither does kiln.
    return make_metaspace_pre_tokenizer(rep, scheme, false);
  }
  if (type == "Split") {
    std::string beh = opt_str(j, "behavior", where, "Isolated");
    Behavior b;
    std::string lb;
    for (char c : beh) lb += char(std::tolower(static_cast<unsigned char>(c)));
    if (lb == "removed") b = Behavior::Removed;
    else if (lb == "isolated") b = Behavior::Isolated;
    else if (lb == "mergedwithprevious") b = Behavior::MergedWithPrevious;
    else if (lb == "mergedwithnext") b = Behavior::MergedWithNext;
    else if (lb == "contiguous") b = Behavior::Contiguous;
    else bad_field(where + ".behavior", "must be Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
    return std::make_unique<Split>(make_pattern(req(j, "pattern", where), where + ".pattern"), b, opt_bool(j, "invert", where, false));
  }
  if (type == "Replace")
    return std::make_unique<ReplacePre>(make_pattern(req(j, "pattern", where), where + ".pattern"), opt_str(j, "content", where));
  if (type == "Sequence") {
    const json& arr = req(j, "pretokenizers", where);
    if (!arr.is_array()) bad_field(where + ".pretokenizers", "must be a list");
    std::vector<std::unique_ptr<PreTokenizer>> v;
    for (size_t i = 0; i < arr.size(); ++i) v.push_back(make_pre_tokenizer(arr[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
    return make_sequence_pre_tokenizer(std::move(v));
  }
  throw Unsupported("tokenizer.json: " + where + ".type \"" + type + "\" is not supported by kiln; supported: BertPreTokenizer, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Split, Punctuation, Digits, Replace, FixedLength, Sequence");
}

}  // namespace kiln::tokenizers
