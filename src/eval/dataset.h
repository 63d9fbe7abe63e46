// Evaluation data: JSON lines, CSV or TSV (by extension; a file of another extension whose first
// line starts with '{' is read as JSON lines). Each example takes its input text (and optional
// second text) and its expected answer (a label or a target text) from named columns.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace kiln::eval {

struct Example {
  size_t line = 0;  // 1-based line of the file where the example starts
  std::string text;
  std::optional<std::string> text_pair;
  std::string expected;  // label or target text
  bool expected_is_integer = false;  // a JSON number (or a CSV field of digits): may be a label id
  std::string expected_column;       // where `expected` came from, for messages
};

struct DataColumns {
  std::string text;                    // "" = the first of text, sentence, input, source, question present
  std::string text_pair;               // "" = none
  std::string expected;                // "" = the first of `expected_defaults` present
  std::vector<std::string> expected_defaults;  // e.g. {"label", "labels"} or {"target", "summary", ...}
  std::string expected_flag;           // the flag that names the expected column, for messages
};

enum class DataFormat { JsonLines, Csv, Tsv };

// The format by extension (.jsonl, .ndjson, .json, .csv, .tsv, .tab), else by content; throws
// BadInput naming the file when neither tells.
DataFormat data_format(const std::string& path, const std::string& contents);

// Reads every example (at most `limit` when > 0). Throws BadInput naming the file, line and column
// for a missing column, an empty file or a malformed line; IoError when the file cannot be read.
std::vector<Example> read_examples(const std::string& path, const DataColumns& columns, size_t limit = 0);

}  // namespace kiln::eval
