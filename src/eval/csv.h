// Delimiter-separated records as RFC 4180 writes them: fields in double quotes may hold the
// delimiter, line breaks and doubled quotes (""); records end at LF or CRLF. Hand-written rather
// than libcsv: it is short, and error messages need the line and column of each record and field,
// which libcsv's callback interface does not report.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace kiln::eval {

struct CsvRecord {
  size_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Parses `text` (a whole file; `file` names it in errors). Blank lines are skipped. Throws BadInput
// naming file, line and column for an unterminated quote or text after a closing quote.
std::vector<CsvRecord> parse_csv(const std::string& text, char delimiter, const std::string& file);

}  // namespace kiln::eval
