#include "tokenizers/decoders.h"

#include "tokenizers/pattern.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {

namespace {
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  size_t last = 0;
  for (; pos != std::string::npos; pos = s.find(from, last)) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
  }
  out.append(s, last, std::string::npos);
  s.swap(out);
}
}  // namespace

std::string clean_up_tokenization(std::string s) {
  if (s.find(' ') == std::string::npos) return s;
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
  return s;
}

namespace {

class WordPieceDec : public Decoder {
 public:
  WordPieceDec(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    for (size_t i = 0; i < t.size(); ++i) {
      if (i != 0) {
        if (!prefix_.empty() && t[i].compare(0, prefix_.size(), prefix_) == 0) t[i].erase(0, prefix_.size());
        else t[i].insert(0, " ");
      }
      if (cleanup_) t[i] = clean_up_tokenization(std::move(t[i]));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

std::string bytes_to_text(const std::string& joined) {
  std::string bytes;
  bytes.reserve(joined.size());
  for (size_t i = 0; i < joined.size();) {
    size_t len;
    char32_t c = decode_utf8(joined, i, len);
    int b = unicode_to_byte(c);
    bytes.push_back(char(b >= 0 ? b : 0));  // the reference turns unknown characters into NUL
    i += len;
  }
  return to_valid_utf8(bytes);
}

class ByteLevelDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& t, const DecodeContext& ctx) const override {
    std::vector<std::string> out;
    std::string cur;
    bool have = false;
    for (auto& tok : t) {
      if (ctx.added && ctx.added->count(tok)) {
        if (have) { out.push_back(bytes_to_text(cur)); cur.clear(); have = false; }
        out.push_back(tok);
      } else {
        cur += tok;
        have = true;
      }
    }
    if (have) out.push_back(bytes_to_text(cur));
    t.swap(out);
  }
};

class MetaspaceDec : public Decoder {
 public:
  explicit MetaspaceDec(std::string rep) : rep_(std::move(rep)) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    for (size_t i = 0; i < t.size(); ++i) {
      replace_all(t[i], rep_, " ");
      if (i == 0 && !t[i].empty() && t[i][0] == ' ') t[i].erase(0, 1);
    }
  }

 private:
  std::string rep_;
};

class BpeDec : public Decoder {
 public:
  explicit BpeDec(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    for (size_t i = 0; i < t.size(); ++i) replace_all(t[i], suffix_, i + 1 == t.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class ReplaceDec : public Decoder {
 public:
  ReplaceDec(std::unique_ptr<Pattern> p, std::string content) : p_(std::move(p)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    std::vector<std::pair<size_t, size_t>> m;
    for (auto& s : t) {
      m.clear();
      p_->find_all(s, m);
      if (m.empty()) continue;
      std::string out;
      size_t pos = 0;
      for (auto [b, e] : m) {
        out.append(s, pos, b - pos);
        out += content_;
        pos = e;
      }
      out.append(s, pos, std::string::npos);
      s.swap(out);
    }
  }

 private:
  std::unique_ptr<Pattern> p_;
  std::string content_;
};

class FuseDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    std::string all;
    for (auto& s : t) all += s;
    t.assign(1, all);
  }
};

class StripDec : public Decoder {
 public:
  StripDec(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    for (auto& s : t) {
      // Character-wise: up to start_ leading and stop_ trailing copies of content_.
      size_t b = 0;
      for (size_t k = 0; k < start_ && s.compare(b, content_.size(), content_) == 0 && !content_.empty(); ++k) b += content_.size();
      size_t e = s.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() && !content_.empty() &&
                         s.compare(e - content_.size(), content_.size(), content_) == 0; ++k)
        e -= content_.size();
      s = s.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class ByteFallbackDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (!bytes.empty()) { out.push_back(to_valid_utf8(bytes)); bytes.clear(); }
    };
    for (auto& s : t) {
      int v = -1;
      if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>') {
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
        int h = hex(s[3]), l = hex(s[4]);
        if (h >= 0 && l >= 0) v = h * 16 + l;
      }
      if (v >= 0) bytes.push_back(char(v));
      else { flush(); out.push_back(std::move(s)); }
    }
    flush();
    t.swap(out);
  }
};

class CtcDec : public Decoder {
 public:
  CtcDec(std::string pad, std::string delim, bool cleanup) : pad_(std::move(pad)), delim_(std::move(delim)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext&) const override {
    std::string text;
    const std::string* last = nullptr;
    for (auto& s : t) {
      if (last && *last == s) continue;
      last = &s;
      if (s != pad_) text += s;
    }
    if (cleanup_) {
      text = clean_up_tokenization(std::move(text));
      replace_all(text, delim_, " ");
      size_t b = text.find_first_not_of(' '), e = text.find_last_not_of(' ');
      text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    }
    t.assign(1, text);
  }

 private:
  std::string pad_, delim_;
  bool cleanup_;
};

class SequenceDec : public Decoder {
 public:
  explicit SequenceDec(std::vector<std::unique_ptr<Decoder>> v) : v_(std::move(v)) {}
  void decode_chain(std::vector<std::string>& t, const DecodeContext& ctx) const override {
    for (auto& d : v_) d->decode_chain(t, ctx);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> v_;
};

}  // namespace

std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup) { return std::make_unique<WordPieceDec>(std::move(prefix), cleanup); }
std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDec>(); }
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement) { return std::make_unique<MetaspaceDec>(std::move(replacement)); }

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = type_of(j, where);
  if (type == "WordPiece") return make_wordpiece_decoder(opt_str(j, "prefix", where, "##"), opt_bool(j, "cleanup", where, true));
  if (type == "ByteLevel") return make_byte_level_decoder();
  if (type == "Metaspace") return make_metaspace_decoder(opt_str(j, "replacement", where, "\xE2\x96\x81"));
  if (type == "BPEDecoder") return std::make_unique<BpeDec>(opt_str(j, "suffix", where, "</w>"));
  if (type == "Replace") return std::make_unique<ReplaceDec>(make_pattern(req(j, "pattern", where), where + ".pattern"), opt_str(j, "content", where));
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip")
    return std::make_unique<StripDec>(opt_str(j, "content", where, " "), size_t(opt_int(j, "start", where, 0)), size_t(opt_int(j, "stop", where, 0)));
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "CTC")
    return std::make_unique<CtcDec>(opt_str(j, "pad_token", where, "<pad>"), opt_str(j, "word_delimiter_token", where, "|"), opt_bool(j, "cleanup", where, true));
  if (type == "Sequence") {
    const json& arr = req(j, "decoders", where);
    if (!arr.is_array()) bad_field(where + ".decoders", "must be a list");
    std::vector<std::unique_ptr<Decoder>> v;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto d = make_decoder(arr[i], where + ".decoders[" + std::to_string(i) + "]");
      if (d) v.push_back(std::move(d));
    }
    return std::make_unique<SequenceDec>(std::move(v));
  }
  throw Unsupported("tokenizer.json: " + where + ".type \"" + type + "\" is not supported by kiln; supported: WordPiece, ByteLevel, Metaspace, BPEDecoder, Replace, Fuse, Strip, ByteFallback, CTC, Sequence");
}

}  // namespace kiln::tokenizers
