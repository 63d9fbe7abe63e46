// The labelled set of `kiln quantize --accuracy-target POINTS --eval-data FILE`, and how a model is
// scored on it: JSON lines {"label": N (or [N, ...] for a batch), "<input>": {tensor}, ...}; the
// accuracy is the percent of rows whose argmax over the last axis of the model's logits (its
// "logits" output, else its first float output) equals the label.
#pragma once
#include <string>
#include <vector>

#include "kiln/quantize.h"
#include "kiln/session.h"

namespace kiln::eval {

struct LabelledSample {
  NamedTensors inputs;
  std::vector<int64_t> labels;  // one per row of the logits
};

// Reads FILE; every line must give each of `input_names`.
std::vector<LabelledSample> read_labelled_set(const std::string& path, const std::vector<std::string>& input_names);

class LabelledSet final : public quant::AccuracyProbe {
 public:
  explicit LabelledSet(std::vector<LabelledSample> samples) : samples_(std::move(samples)) {}
  std::vector<Tensor> outputs(const Session& session) const override;
  double accuracy(const std::vector<Tensor>& logits) const override;

 private:
  std::vector<LabelledSample> samples_;
};

// quant::AccuracyProbeMaker over read_labelled_set.
std::unique_ptr<quant::AccuracyProbe> labelled_set_probe(const std::string& path,
                                                         const std::vector<std::string>& input_names);

}  // namespace kiln::eval
