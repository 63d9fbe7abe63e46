#include "eval/csv.h"

#include "core/error.h"

namespace kiln::eval {

std::vector<CsvRecord> parse_csv(const std::string& text, char delim, const std::string& file) {
  std::vector<CsvRecord> out;
  size_t i = 0, line = 1;
  const size_t n = text.size();
  if (n >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte order mark
  auto at_eol = [&](size_t k) { return k < n && (text[k] == '\n' || (text[k] == '\r' && k + 1 < n && text[k + 1] == '\n')); };
  while (i < n) {
    if (at_eol(i)) {  // blank line
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    size_t line_start = i;  // for column numbers (1-based, in bytes)
    for (;;) {
      std::string field;
      if (i < n && text[i] == '"') {
        const size_t open_line = line, open_col = i - line_start + 1;
        ++i;
        for (;;) {
          KILN_CHECK(i < n, BadInput, "{}: line {}, column {}: quoted field is never closed (a \" is missing)", file,
                     open_line, open_col);
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line, line_start = i + 1;
          field += text[i++];
        }
        KILN_CHECK(i >= n || text[i] == delim || at_eol(i), BadInput,
                   "{}: line {}, column {}: text after a closing quote; write a quote inside a quoted field as \"\"",
                   file, line, i - line_start + 1);
      } else {
        while (i < n && text[i] != delim && !at_eol(i)) field += text[i++];
      }
      rec.fields.push_back(std::move(field));
      if (i < n && text[i] == delim) {
        ++i;
        continue;
      }
      break;
    }
    if (i < n) i += text[i] == '\r' ? 2 : 1, ++line;
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace kiln::eval
