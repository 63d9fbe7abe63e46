// What a `kiln quantize` run did: sizes per file and in total, nodes quantized per op type, ops
// left in float and why, time taken, warnings. Rendered as a table or as JSON.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantize/context.h"
#include "quantize/options.h"

namespace kiln::quant {

struct FileReport {
  std::string name;       // file name in OUT
  std::string role;       // "graph", "weights" (shared external data), "copied"
  int64_t bytes_before = 0;  // the input file(s) it came from (a graph: with its external data)
  int64_t bytes_after = 0;
  GraphStats stats;       // graphs only
};

struct Report {
  std::string input, output;
  Options options;
  std::vector<FileReport> files;
  int64_t bytes_deduplicated = 0;  // identical weights stored once across graphs
  double seconds = 0;
  std::vector<std::string> warnings;
  // --accuracy-target: fp32 / all-quantized / final accuracy (percent) and the nodes kept float.
  bool accuracy_tuned = false;
  double accuracy_fp32 = 0, accuracy_all_quantized = 0, accuracy_final = 0;
  std::vector<std::string> kept_float;

  int64_t graph_bytes_before() const;  // graphs and their weights (copied files excluded)
  int64_t graph_bytes_after() const;
  int total_quantized() const;
};

std::string render_report(const Report& r);
nlohmann::json report_to_json(const Report& r);
// Optimum's ort_config.json for these settings (so Optimum users see what was done).
nlohmann::json ort_config_json(const Options& o);
// kiln's own record of the settings.
nlohmann::json options_to_json(const Options& o);

}  // namespace kiln::quant
