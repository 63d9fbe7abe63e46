// Patterns of tokenizer.json ({"String": ...} or {"Regex": ...}) for Split, Replace: literal
// search or PCRE2 (UTF + Unicode properties, JIT), which reads the Oniguruma-style regexes of
// Hugging Face tokenizers.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kiln::tokenizers {

class Pattern {
 public:
  virtual ~Pattern() = default;
  // Non-overlapping matches [begin, end) (bytes), left to right. Empty matches are reported.
  virtual void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const = 0;
};

std::unique_ptr<Pattern> make_string_pattern(std::string literal);
// Throws BadModel naming `where` when the regex does not compile.
std::unique_ptr<Pattern> make_regex_pattern(const std::string& regex, const std::string& where);
// From {"String": s} or {"Regex": r}.
std::unique_ptr<Pattern> make_pattern(const nlohmann::json& j, const std::string& where);

}  // namespace kiln::tokenizers
