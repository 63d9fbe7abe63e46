// --accuracy-target POINTS --eval-data FILE: keep a quantized classifier within POINTS (percent)
// of its fp32 accuracy on a labelled set by leaving the most sensitive nodes in float.
// Sensitivity of a node: how far the logits move (mean squared difference from fp32 over the set)
// when that node alone is quantized. Greedy: nodes are returned to float, most sensitive first,
// until the accuracy is within the target.
#pragma once
#include <string>
#include <vector>

#include "core/tensor_json.h"
#include "graph/graph.h"
#include "quantize/options.h"

namespace kiln::quant {

struct LabelledSample {
  NamedTensors inputs;
  std::vector<int64_t> labels;  // one per row of the logits
};

// JSON lines: {"label": 2, "input_ids": {tensor}, ...} (or "label": [..] for a batch).
std::vector<LabelledSample> load_eval_data(const std::string& path, const Model& model);

// Percent of rows whose argmax over the last axis of the first float output equals the label.
double accuracy(const Model& model, const std::vector<LabelledSample>& samples, int threads = 0);

struct AccuracyResult {
  double fp32 = 0, quantized_all = 0, final = 0;  // percent
  std::vector<std::string> kept_float;             // node names returned to float, in order
  int evaluations = 0;
};

// The nodes to exclude (added to options.nodes_to_exclude by the caller) for `model` (fp32).
AccuracyResult tune_for_accuracy(const Model& model, const Options& options, const std::vector<LabelledSample>& samples);

}  // namespace kiln::quant
