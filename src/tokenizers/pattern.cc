#include "tokenizers/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kiln::tokenizers {
namespace {

class StringPattern : public Pattern {
 public:
  explicit StringPattern(std::string s) : s_(std::move(s)) {}
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const override {
    if (s_.empty()) return;
    for (size_t pos = text.find(s_); pos != std::string_view::npos; pos = text.find(s_, pos + s_.size()))
      out.emplace_back(pos, pos + s_.size());
  }

 private:
  std::string s_;
};

// Oniguruma spellings PCRE2 does not take: \h (hex digit in Oniguruma, horizontal space in PCRE2)
// and \p{Word}-style names are rare in tokenizer files; \A \z \Z (?i:...) and possessive
// quantifiers mean the same in both. Only \h/\H are rewritten.
std::string to_pcre2(const std::string& r) {
  std::string out;
  out.reserve(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == '\\' && i + 1 < r.size()) {
      char n = r[i + 1];
      if (n == 'h') { out += "[0-9A-Fa-f]"; ++i; continue; }
      if (n == 'H') { out += "[^0-9A-Fa-f]"; ++i; continue; }
      out += r[i];
      out += n;
      ++i;
      continue;
    }
    out += r[i];
  }
  return out;
}

class RegexPattern : public Pattern {
 public:
  RegexPattern(const std::string& regex, const std::string& where) {
    int err = 0;
    PCRE2_SIZE off = 0;
    std::string src = to_pcre2(regex);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(src.data()), src.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw BadModel(where + ": regex does not compile at offset " + std::to_string(off) + ": " +
                     reinterpret_cast<char*>(msg) + "; fix the pattern in tokenizer.json");
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~RegexPattern() override { pcre2_code_free(code_); }

  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const override {
    thread_local pcre2_match_data* md = nullptr;
    thread_local uint32_t md_pairs = 0;
    if (!md) { md = pcre2_match_data_create(16, nullptr); md_pairs = 16; }
    (void)md_pairs;
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos <= text.size()) {
      int rc = jit_ ? pcre2_jit_match(code_, subject, text.size(), pos, 0, md, nullptr)
                    : pcre2_match(code_, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && !jit_) break;
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {  // JIT stack or match limits: retry with the interpreter
        rc = pcre2_match(code_, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      out.emplace_back(b, e);
      if (e > b) pos = e;
      else {  // empty match: step one character
        pos = e + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      }
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

}  // namespace

std::unique_ptr<Pattern> make_string_pattern(std::string literal) { return std::make_unique<StringPattern>(std::move(literal)); }

std::unique_ptr<Pattern> make_regex_pattern(const std::string& regex, const std::string& where) {
  return std::make_unique<RegexPattern>(regex, where);
}

std::unique_ptr<Pattern> make_pattern(const nlohmann::json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) return make_string_pattern(j["String"].get<std::string>());
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) return make_regex_pattern(j["Regex"].get<std::string>(), where);
  throw BadModel(where + ": expected {\"String\": ...} or {\"Regex\": ...}; fix tokenizer.json");
}

}  // namespace kiln::tokenizers
