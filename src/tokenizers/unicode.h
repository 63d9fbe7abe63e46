// UTF-8 and Unicode character classes as the JavaScript reference tokenizers see them
// (utf8proc underneath): decoding with U+FFFD for bad bytes, JS whitespace, punctuation, CJK.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::tokenizers {

// Decodes the code point at s[i]; sets len to the bytes used. Malformed bytes decode to U+FFFD
// and consume what the WHATWG decoder would (the maximal invalid subpart, at least one byte).
char32_t decode_utf8(std::string_view s, size_t i, size_t& len);
void append_utf8(std::string& out, char32_t cp);
inline size_t utf8_len(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
// Replaces malformed sequences by U+FFFD (what TextDecoder and String::from_utf8_lossy do).
std::string to_valid_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);
size_t count_chars(std::string_view s);

// JavaScript's \s (and what String.prototype.trim removes).
bool is_js_space(char32_t c);
// Unicode White_Space property (what Oniguruma's and PCRE2's \s mean, and Rust's is_whitespace).
bool is_white_space(char32_t c);
bool is_letter(char32_t c);   // \p{L}
bool is_number(char32_t c);   // \p{N}
bool is_mark(char32_t c);     // \p{M}
bool is_nonspacing_mark(char32_t c);  // \p{Mn}
// ASCII punctuation or \p{P} (BERT's definition).
bool is_bert_punct(char32_t c);
// \p{Cc} \p{Cf} \p{Co} \p{Cs}, except \t \n \r (BertNormalizer's "control").
bool is_bert_control(char32_t c);
// The CJK ideograph blocks BERT pads with spaces (BMP only, as the reference checks UTF-16 units).
bool is_bert_cjk_bmp(char32_t c);
bool is_cjk(char32_t c);

// Lowercases like JavaScript's String.prototype.toLowerCase (full mapping: U+0130, final sigma).
// prev_cased/next_cased supply the context for the final sigma rule.
void append_lower(std::string& out, char32_t c, bool final_sigma);
bool is_cased(char32_t c);
bool is_case_ignorable(char32_t c);

}  // namespace kiln::tokenizers
