// text-classification: softmax (single label) or sigmoid (multi-label, or one label) over the
// logits, as transformers' TextClassificationPipeline chooses by problem_type.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "pipelines/generation/logits_processors.h"
#include "pipelines/tasks.h"
#include "pipelines/tensor_rows.h"

namespace kiln::pipelines {

TextClassificationPipeline::TextClassificationPipeline(std::unique_ptr<ModelDir> dir, PipelineOptions options)
    : EncoderTask("text-classification", std::move(dir), std::move(options)) {}

std::vector<std::vector<LabelScore>> TextClassificationPipeline::classify(const std::vector<PipelineInput>& inputs) {
  std::vector<Encoding> enc = encode_all(inputs);
  const ModelConfig& cfg = dir_->config();
  std::string fn = options_.function_to_apply;
  if (fn.empty()) {
    if (cfg.problem_type == "multi_label_classification" || cfg.num_labels() == 1) fn = "sigmoid";
    else if (cfg.problem_type == "regression") fn = "none";
    else fn = "softmax";
  }
  KILN_CHECK(fn == "softmax" || fn == "sigmoid" || fn == "none", BadInput,
             "function_to_apply '{}' is not one of softmax, sigmoid, none", fn);
  std::vector<std::vector<LabelScore>> out(inputs.size());
  for_chunks(enc, [&](std::span<const Encoding> chunk, const NamedTensors& outs, size_t first) {
    const Tensor& logits = output(outs, "logits", 2);
    const int64_t L = logits.dim(1);
    std::vector<float> all = as_floats(logits);
    for (size_t b = 0; b < chunk.size(); ++b) {
      std::vector<float> s(all.begin() + b * L, all.begin() + (b + 1) * L);
      if (fn == "softmax") generation::softmax_inplace(s);
      else if (fn == "sigmoid")
        for (float& v : s) v = 1.0f / (1.0f + std::exp(-v));
      auto& r = out[first + b];
      for (int64_t i = 0; i < L; ++i) r.push_back({cfg.label(i), s[i]});
      std::stable_sort(r.begin(), r.end(), [](const LabelScore& a, const LabelScore& c) { return a.score > c.score; });
    }
  });
  return out;
}

std::vector<nlohmann::json> TextClassificationPipeline::run(const std::vector<PipelineInput>& inputs) {
  std::vector<nlohmann::json> res;
  for (auto& r : classify(inputs)) {
    nlohmann::json j = {{"label", r[0].label}, {"score", r[0].score}};
    if (options_.top_k) {
      nlohmann::json all = nlohmann::json::array();
      for (int i = 0; i < (int)r.size() && (*options_.top_k <= 0 || i < *options_.top_k); ++i)
        all.push_back({{"label", r[i].label}, {"score", r[i].score}});
      j["scores"] = all;
    }
    res.push_back(j);
  }
  return res;
}

}  // namespace kiln::pipelines
