// --accuracy-target POINTS --eval-data FILE: keep a quantized classifier within POINTS (percent)
// of its fp32 accuracy on a labelled set by leaving the most sensitive nodes in float.
// Sensitivity of a node: how far the outputs move (mean squared difference from fp32 over the set)
// when that node alone is quantized. Greedy: nodes are returned to float, most sensitive first,
// until the accuracy is within the target.
//
// What "accuracy" is and how the labelled set is read is eval/'s (eval/labelled_set.h implements
// AccuracyProbe); this file only decides which nodes stay float.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "kiln/session.h"
#include "quantize/options.h"

namespace kiln::quant {

// AccuracyProbe (runs a session over a labelled set and scores what it gave) and
// AccuracyProbeMaker are public: kiln/quantize.h, included through quantize/options.h.

struct AccuracyResult {
  double fp32 = 0, quantized_all = 0, final = 0;  // percent
  std::vector<std::string> kept_float;             // node names returned to float, in order
  int evaluations = 0;
};

// The nodes to exclude (added to options.nodes_to_exclude by the caller) for `model` (fp32).
AccuracyResult tune_for_accuracy(const Model& model, const Options& options, const AccuracyProbe& probe);

}  // namespace kiln::quant
