// `kiln report`: model folders side by side on the same data. Per folder: bytes on disk (what the
// pipeline reads), the task metric, time for N samples; speed-up and size ratio against the first
// folder. Rendered as a Markdown table, as JSON, or as one HTML page with SVG bar charts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/machine.h"

namespace kiln::eval {

struct ReportRow {
  std::string folder;
  int64_t size_bytes = 0;
  std::string metric;  // accuracy, f1, exact_match, cer, wer, per
  double metric_value = 0;
  size_t eval_samples = 0;  // examples scored
  size_t samples = 0;       // inputs timed
  double ms_total = 0, ms_per_sample = 0;
  double speedup = 1, size_ratio = 1;  // against the first row: its time / this time, this size / its size
};

struct ModelReport {
  MachineInfo machine;
  std::string task, data_file;
  size_t batch_size = 1;
  std::vector<ReportRow> rows;

  // Fills speedup and size_ratio from the first row.
  void compare_to_first();
  std::string markdown() const;
  std::string html() const;
  nlohmann::json to_json() const;
};

}  // namespace kiln::eval
