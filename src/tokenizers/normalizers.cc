#include "tokenizers/normalizers.h"

#include <cstdlib>
#include <utf8proc.h>

#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {
namespace {

inline bool all_ascii(std::string_view s) {
  for (unsigned char c : s) if (c >= 0x80) return false;
  return true;
}

// Visits each character of s: f(code point, byte index, byte length, alignment of the char).
template <class F>
void for_each_char(const NString& s, F f) {
  const std::string& t = s.text;
  for (size_t i = 0; i < t.size();) {
    size_t len;
    char32_t c = decode_utf8(t, i, len);
    f(c, i, len, Align{s.align[i].b, s.align[i + len - 1].e});
    i += len;
  }
}

void push_cp(NString& out, char32_t c, Align a) {
  size_t n = out.text.size();
  append_utf8(out.text, c);
  out.align.insert(out.align.end(), out.text.size() - n, a);
}

bool final_sigma_at(const std::string& t, size_t i, size_t len) {
  // Cased letter before (skipping case-ignorables) and none after.
  bool before = false;
  for (size_t j = i; j > 0;) {
    size_t k = j - 1;
    while (k > 0 && (static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) --k;
    size_t l;
    char32_t c = decode_utf8(t, k, l);
    if (is_case_ignorable(c)) { j = k; continue; }
    before = is_cased(c);
    break;
  }
  if (!before) return false;
  for (size_t j = i + len; j < t.size();) {
    size_t l;
    char32_t c = decode_utf8(t, j, l);
    if (is_case_ignorable(c)) { j += l; continue; }
    return !is_cased(c);
  }
  return true;
}

void strip_marks(NString& s, bool only_nonspacing) {
  NString out;
  out.text.reserve(s.text.size());
  out.align.reserve(s.text.size());
  for_each_char(s, [&](char32_t c, size_t i, size_t len, Align a) {
    if (only_nonspacing ? is_nonspacing_mark(c) : is_mark(c)) return;
    out.text.append(s.text, i, len);
    out.align.insert(out.align.end(), s.align.begin() + i, s.align.begin() + i + len);
  });
  s = std::move(out);
}

// NFD of each character, dropping nonspacing marks (what BERT's strip_accents does).
void nfd_strip_mn(NString& s) {
  if (all_ascii(s.text)) return;
  NString out;
  out.text.reserve(s.text.size());
  out.align.reserve(s.text.size());
  utf8proc_int32_t buf[32];
  for_each_char(s, [&](char32_t c, size_t i, size_t len, Align a) {
    if (c < 0xC0) { out.text.append(s.text, i, len); out.align.insert(out.align.end(), len, a); return; }
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                 static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last);
    if (n < 0 || n > 32) { push_cp(out, c, a); return; }
    for (utf8proc_ssize_t k = 0; k < n; ++k)
      if (!is_nonspacing_mark(static_cast<char32_t>(buf[k]))) push_cp(out, static_cast<char32_t>(buf[k]), a);
  });
  s = std::move(out);
}

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, int strip, bool lower) : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void normalize(NString& s) const override {
    NString out;
    out.text.reserve(s.text.size() + 8);
    out.align.reserve(s.text.size() + 8);
    const std::string& t = s.text;
    for (size_t i = 0; i < t.size();) {
      unsigned char b = static_cast<unsigned char>(t[i]);
      if (b < 0x80) {  // ASCII fast path
        Align a = s.align[i];
        ++i;
        if (clean_) {
          if (b == '\t' || b == '\n' || b == '\r') { out.push_byte(' ', a); continue; }
          if (b < 0x20 || b == 0x7F) continue;
        }
        out.push_byte(lower_ && b >= 'A' && b <= 'Z' ? char(b + 32) : char(b), a);
        continue;
      }
      size_t len;
      char32_t c = decode_utf8(t, i, len);
      Align a{s.align[i].b, s.align[i + len - 1].e};
      size_t at = i;
      i += len;
      if (clean_) {
        if (c == 0xFFFD || is_bert_control(c)) continue;
        if (is_js_space(c)) { out.push_byte(' ', a); continue; }
      }
      bool cjk = chinese_ && is_bert_cjk_bmp(c);
      if (cjk) out.push_byte(' ', a);
      if (lower_) {
        size_t n = out.text.size();
        append_lower(out.text, c, c == 0x3A3 && final_sigma_at(t, at, len));
        out.align.insert(out.align.end(), out.text.size() - n, a);
      } else {
        out.text.append(t, at, len);
        out.align.insert(out.align.end(), len, a);
      }
      if (cjk) out.push_byte(' ', a);
    }
    if (lower_ ? strip_ != 0 : strip_ == 1) nfd_strip_mn(out);
    s = std::move(out);
  }

 private:
  bool clean_, chinese_;
  int strip_;
  bool lower_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(UForm f) : f_(f) {}
  void normalize(NString& s) const override { unicode_normalize(s, f_); }

 private:
  UForm f_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(NString& s) const override { lowercase_js(s); }
};

class StripAccents : public Normalizer {
 public:
  void normalize(NString& s) const override {
    if (!all_ascii(s.text)) strip_marks(s, false);
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool l, bool r) : l_(l), r_(r) {}
  void normalize(NString& s) const override {
    size_t b = 0, e = s.text.size();
    if (l_) {
      while (b < e) {
        size_t len;
        char32_t c = decode_utf8(s.text, b, len);
        if (!is_js_space(c)) break;
        b += len;
      }
    }
    if (r_) {
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s.text[k]) & 0xC0) == 0x80) --k;
        size_t len;
        char32_t c = decode_utf8(s.text, k, len);
        if (!is_js_space(c)) break;
        e = k;
      }
    }
    if (b != 0 || e != s.text.size()) s = s.sub(b, e);
  }

 private:
  bool l_, r_;
};

class Replace : public Normalizer {
 public:
  Replace(std::unique_ptr<Pattern> p, std::string content) : p_(std::move(p)), content_(std::move(content)) {}
  void normalize(NString& s) const override {
    std::vector<std::pair<size_t, size_t>> m;
    p_->find_all(s.text, m);
    if (m.empty()) return;
    NString out;
    size_t pos = 0;
    for (auto [b, e] : m) {
      out.text.append(s.text, pos, b - pos);
      out.align.insert(out.align.end(), s.align.begin() + pos, s.align.begin() + b);
      if (!content_.empty()) {
        // The replacement covers what the match covered (an empty match: the next character).
        Align a = e > b ? s.span(b, e) : (b < s.align.size() ? Align{s.align[b].b, s.align[b].b} : Align{s.align.empty() ? 0 : s.align.back().e, s.align.empty() ? 0 : s.align.back().e});
        out.push(content_, a);
      }
      pos = e;
    }
    out.text.append(s.text, pos, std::string::npos);
    out.align.insert(out.align.end(), s.align.begin() + pos, s.align.end());
    s = std::move(out);
  }

 private:
  std::unique_ptr<Pattern> p_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void normalize(NString& s) const override {
    if (s.text.empty()) return;  // the reference prepends to empty text too, but empty text is skipped before
    NString out;
    size_t len;
    decode_utf8(s.text, 0, len);
    out.push(p_, s.span(0, len));
    out.text += s.text;
    out.align.insert(out.align.end(), s.align.begin(), s.align.end());
    s = std::move(out);
  }

 private:
  std::string p_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> v) : v_(std::move(v)) {}
  void normalize(NString& s) const override {
    for (auto& n : v_) if (n) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> v_;
};

// Starters that can still combine with what precedes them (Hangul V/T jamo, a few Indic vowel
// signs): a normalization chunk must not start with one.
bool combines_backwards(char32_t c) {
  return (c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2) || c == 0x0B3E || c == 0x0BBE || c == 0x0BD7 ||
         c == 0x0CC2 || c == 0x0CD5 || c == 0x0CD6 || c == 0x0D3E || c == 0x0D57 || c == 0x0DCF || c == 0x0DDF ||
         c == 0x102E || c == 0x1B35 || c == 0x0C56 || c == 0x0B56 || c == 0x0B57 || c == 0x09BE || c == 0x09D7 ||
         c == 0x0DCA || c == 0x0D4E;
}

std::string umap(std::string_view s, UForm f) {
  int opt = UTF8PROC_STABLE;
  switch (f) {
    case UForm::NFC: opt |= UTF8PROC_COMPOSE; break;
    case UForm::NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case UForm::NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case UForm::NFKD: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* dst = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                                    &dst, static_cast<utf8proc_option_t>(opt));
  if (n < 0) return std::string(s);
  std::string r(reinterpret_cast<char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return r;
}

}  // namespace

void unicode_normalize(NString& s, UForm f) {
  if (all_ascii(s.text)) return;
  std::string valid = to_valid_utf8(s.text);
  if (valid.size() != s.text.size()) s = NString::from(valid, s.align.empty() ? 0 : s.align[0].b);  // cannot happen for decoded input
  const std::string& t = s.text;
  // Chunks: a starter (combining class 0) and the marks after it; normalized one by one, each
  // output byte aligned to its whole chunk.
  NString out;
  out.text.reserve(t.size() + 8);
  out.align.reserve(t.size() + 8);
  size_t cb = 0;
  auto flush = [&](size_t ce) {
    if (ce == cb) return;
    std::string_view chunk(t.data() + cb, ce - cb);
    Align a = s.span(cb, ce);
    if (all_ascii(chunk)) {
      out.text.append(chunk);
      out.align.insert(out.align.end(), s.align.begin() + cb, s.align.begin() + ce);
    } else if (ce - cb <= 4 && count_chars(chunk) == 1) {
      out.push(umap(chunk, f), a);
    } else {
      out.push(umap(chunk, f), a);
    }
    cb = ce;
  };
  for (size_t i = 0; i < t.size();) {
    size_t len;
    char32_t c = decode_utf8(t, i, len);
    if (i > cb) {
      bool starter = c < 0x300 || (utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class == 0 && !combines_backwards(c));
      if (starter) flush(i);
    }
    i += len;
  }
  flush(t.size());
  // Chunk-wise normalization equals the whole-string one except in rare cases (a starter whose
  // decomposition begins with a mark); then keep the exact text with coarse alignment.
  std::string whole = umap(t, f);
  if (whole != out.text) {
    NString w;
    w.push(whole, s.span(0, t.size()));
    s = std::move(w);
    return;
  }
  s = std::move(out);
}

void lowercase_js(NString& s) {
  NString out;
  out.text.reserve(s.text.size());
  out.align.reserve(s.text.size());
  const std::string& t = s.text;
  for (size_t i = 0; i < t.size();) {
    unsigned char b = static_cast<unsigned char>(t[i]);
    if (b < 0x80) {
      out.push_byte(b >= 'A' && b <= 'Z' ? char(b + 32) : char(b), s.align[i]);
      ++i;
      continue;
    }
    size_t len;
    char32_t c = decode_utf8(t, i, len);
    Align a{s.align[i].b, s.align[i + len - 1].e};
    size_t n = out.text.size();
    append_lower(out.text, c, c == 0x3A3 && final_sigma_at(t, i, len));
    out.align.insert(out.align.end(), out.text.size() - n, a);
    i += len;
  }
  s = std::move(out);
}

std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool chinese, int strip_accents, bool lowercase) {
  return std::make_unique<BertNormalizer>(clean_text, chinese, strip_accents, lowercase);
}
std::unique_ptr<Normalizer> make_replace_normalizer(const std::string& literal, const std::string& content) {
  return std::make_unique<Replace>(make_string_pattern(literal), content);
}
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> parts) {
  return std::make_unique<Sequence>(std::move(parts));
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = type_of(j, where);
  if (type == "BertNormalizer") {
    int strip = -1;
    if (j.contains("strip_accents") && j["strip_accents"].is_boolean()) strip = j["strip_accents"].get<bool>() ? 1 : 0;
    return make_bert_normalizer(opt_bool(j, "clean_text", where, true), opt_bool(j, "handle_chinese_chars", where, true), strip,
                                opt_bool(j, "lowercase", where, true));
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") return std::make_unique<Strip>(opt_bool(j, "strip_left", where, false), opt_bool(j, "strip_right", where, false));
  if (type == "Replace")
    return std::make_unique<Replace>(make_pattern(req(j, "pattern", where), where + ".pattern"), opt_str(j, "content", where));
  if (type == "Prepend") return std::make_unique<Prepend>(req_str(j, "prepend", where));
  if (type == "Precompiled") {
    const json& m = req(j, "precompiled_charsmap", where);
    if (!m.is_string()) bad_field(where + ".precompiled_charsmap", "must be a base64 string");
    std::string b64 = m.get<std::string>();
    std::string bytes;
    // base64 decode
    auto val = [](char c) -> int {
      if (c >= 'A' && c <= 'Z') return c - 'A';
      if (c >= 'a' && c <= 'z') return c - 'a' + 26;
      if (c >= '0' && c <= '9') return c - '0' + 52;
      if (c == '+' || c == '-') return 62;
      if (c == '/' || c == '_') return 63;
      return -1;
    };
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
      if (c == '=' || c == '\n' || c == '\r') continue;
      int v = val(c);
      if (v < 0) bad_field(where + ".precompiled_charsmap", "is not valid base64");
      acc = (acc << 6) | uint32_t(v);
      bits += 6;
      if (bits >= 8) { bits -= 8; bytes.push_back(char((acc >> bits) & 0xFF)); }
    }
    return make_precompiled_normalizer(std::move(bytes), where + ".precompiled_charsmap");
  }
  if (type == "Sequence") {
    const json& arr = req(j, "normalizers", where);
    if (!arr.is_array()) bad_field(where + ".normalizers", "must be a list");
    std::vector<std::unique_ptr<Normalizer>> v;
    for (size_t i = 0; i < arr.size(); ++i) v.push_back(make_normalizer(arr[i], where + ".normalizers[" + std::to_string(i) + "]"));
    return std::make_unique<Sequence>(std::move(v));
  }
  throw Unsupported("tokenizer.json: " + where + ".type \"" + type + "\" is not supported by kiln; supported: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, Precompiled, Sequence");
}

}  // namespace kiln::tokenizers
