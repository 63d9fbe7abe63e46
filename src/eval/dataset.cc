#include "eval/dataset.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_json.h"
#include "eval/csv.h"

namespace kiln::eval {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTextDefaults = {"text", "sentence", "input", "source", "question"};

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  return e;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

// The column to use: `given`, else the first default present; throws naming what is there.
std::string pick(const std::string& given, const std::vector<std::string>& defaults, const std::vector<std::string>& have,
                 const std::string& where, const std::string& flag) {
  auto has = [&](const std::string& c) { return std::find(have.begin(), have.end(), c) != have.end(); };
  if (!given.empty()) {
    KILN_CHECK(has(given), BadInput, "{}: no column '{}' (columns: {}); name the right one with {}", where, given,
               join(have), flag);
    return given;
  }
  for (const auto& d : defaults)
    if (has(d)) return d;
  throw BadInput(fmt::format("{}: no column '{}' (columns: {}); name the right one with {}", where,
                             defaults.empty() ? "" : defaults[0], join(have), flag));
}

// Inputs only (kiln bench --data) when no expected column is named or defaulted.
bool wants_expected(const DataColumns& c) { return !c.expected.empty() || !c.expected_defaults.empty(); }

bool all_digits(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + i, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::vector<Example> read_jsonl(const std::string& path, const std::string& all, const DataColumns& c, size_t limit) {
  std::vector<Example> out;
  size_t line = 0, start = 0;
  std::string text_col, pair_col, exp_col;
  while (start < all.size() && (limit == 0 || out.size() < limit)) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) nl = all.size();
    std::string l = all.substr(start, nl - start);
    start = nl + 1;
    ++line;
    if (l.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(l, nullptr, false);
    KILN_CHECK(!j.is_discarded() && j.is_object(), BadInput,
               "{}: line {}: not a JSON object; JSON lines data holds one object like {{\"text\": ..., \"label\": ...}} per line",
               path, line);
    std::vector<std::string> keys;
    for (auto& [k, _] : j.items()) keys.push_back(k);
    const std::string where = fmt::format("{}: line {}", path, line);
    text_col = pick(c.text, kTextDefaults, keys, where, "--text-column");
    if (!c.text_pair.empty()) pair_col = pick(c.text_pair, {}, keys, where, "--text-pair-column");
    if (wants_expected(c)) exp_col = pick(c.expected, c.expected_defaults, keys, where, c.expected_flag);
    auto str = [&](const std::string& col, bool number_ok, bool* is_int) {
      const auto& v = j[col];
      if (v.is_string()) return v.get<std::string>();
      if (number_ok && v.is_number_integer()) {
        if (is_int) *is_int = true;
        return std::to_string(v.get<int64_t>());
      }
      if (number_ok && v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
      throw BadInput(fmt::format("{}, column '{}': expected a string{}, got {}", where, col,
                                 number_ok ? " or an integer" : "", v.dump()));
    };
    Example e;
    e.line = line;
    e.text = str(text_col, false, nullptr);
    if (!pair_col.empty()) e.text_pair = str(pair_col, false, nullptr);
    if (!exp_col.empty()) e.expected = str(exp_col, true, &e.expected_is_integer);
    e.expected_column = exp_col;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Example> read_delimited(const std::string& path, const std::string& all, char delim, const DataColumns& c,
                                    size_t limit) {
  std::vector<CsvRecord> recs = parse_csv(all, delim, path);
  KILN_CHECK(!recs.empty(), BadInput, "{}: line 1: no header line; the first line names the columns", path);
  const std::vector<std::string>& header = recs[0].fields;
  const std::string where = fmt::format("{}: line {} (header)", path, recs[0].line);
  auto index_of = [&](const std::string& col) {
    return (size_t)(std::find(header.begin(), header.end(), col) - header.begin());
  };
  size_t ti = index_of(pick(c.text, kTextDefaults, header, where, "--text-column"));
  size_t pi = c.text_pair.empty() ? header.size() : index_of(pick(c.text_pair, {}, header, where, "--text-pair-column"));
  size_t ei = wants_expected(c) ? index_of(pick(c.expected, c.expected_defaults, header, where, c.expected_flag)) : ti;
  KILN_CHECK(recs.size() > 1, BadInput, "{}: line {}: the header is the only line; no examples to evaluate", path,
             recs[0].line + 1);
  std::vector<Example> out;
  for (size_t r = 1; r < recs.size() && (limit == 0 || out.size() < limit); ++r) {
    const auto& f = recs[r].fields;
    size_t need = std::max({ti, ei, c.text_pair.empty() ? 0 : pi}) + 1;
    if (f.size() < need) {
      size_t missing = f.size() <= ti ? ti : f.size() <= ei ? ei : pi;
      throw BadInput(fmt::format("{}: line {}, column {} ('{}'): missing; the line has {} field(s), the header {}", path,
                                 recs[r].line, missing + 1, header[missing], f.size(), header.size()));
    }
    Example e;
    e.line = recs[r].line;
    e.text = f[ti];
    if (!c.text_pair.empty()) e.text_pair = f[pi];
    if (wants_expected(c)) {
      e.expected = f[ei];
      e.expected_is_integer = all_digits(e.expected);
      e.expected_column = header[ei];
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

DataFormat data_format(const std::string& path, const std::string& contents) {
  const std::string e = lower_ext(path);
  if (e == ".jsonl" || e == ".ndjson" || e == ".json") return DataFormat::JsonLines;
  if (e == ".csv") return DataFormat::Csv;
  if (e == ".tsv" || e == ".tab") return DataFormat::Tsv;
  size_t first = contents.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && contents[first] == '{') return DataFormat::JsonLines;
  throw BadInput(fmt::format("{}: line 1: unknown data format (extension '{}'); give JSON lines (.jsonl), .csv or .tsv",
                             path, e));
}

std::vector<Example> read_examples(const std::string& path, const DataColumns& columns, size_t limit) {
  KILN_CHECK(fs::is_regular_file(path), IoError, "data file {} does not exist (or is not a file)", path);
  std::string all = read_file(path);
  KILN_CHECK(all.find_first_not_of(" \t\r\n") != std::string::npos, BadInput,
             "{}: line 1: the data file is empty; give one example per line (JSON lines) or a header and rows (CSV/TSV)",
             path);
  std::vector<Example> out;
  switch (data_format(path, all)) {
    case DataFormat::JsonLines: out = read_jsonl(path, all, columns, limit); break;
    case DataFormat::Csv: out = read_delimited(path, all, ',', columns, limit); break;
    case DataFormat::Tsv: out = read_delimited(path, all, '\t', columns, limit); break;
  }
  KILN_CHECK(!out.empty(), BadInput, "{}: line 1: no examples in the data file", path);
  return out;
}

}  // namespace kiln::eval
