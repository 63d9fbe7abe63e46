#include "eval/labelled_set.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_lines.h"
#include "core/tensor_json.h"

namespace kiln::eval {

std::vector<LabelledSample> read_labelled_set(const std::string& path, const std::vector<std::string>& input_names) {
  std::vector<LabelledSample> out;
  for_each_json_line(path, "evaluation data", [&](const nlohmann::json& j, int n) {
    KILN_CHECK(j.is_object() && j.contains("label"), BadInput,
               "{} line {}: expected {{\"label\": N, \"<input>\": {{tensor}}, ...}}", path, n);
    LabelledSample s;
    if (j["label"].is_array())
      for (const auto& l : j["label"]) s.labels.push_back(l.get<int64_t>());
    else s.labels.push_back(j["label"].get<int64_t>());
    for (const auto& name : input_names) {
      KILN_CHECK(j.contains(name), BadInput, "{} line {}: no input '{}'", path, n, name);
      s.inputs[name] = tensor_from_json(j[name], name);
    }
    out.push_back(std::move(s));
  });
  KILN_CHECK(!out.empty(), BadInput, "evaluation data {} holds no samples", path);
  return out;
}

namespace {

std::string logits_output(const Session& s) {
  const std::vector<TensorInfo> outs = s.output_info();
  for (const auto& o : outs)
    if (o.name == "logits") return o.name;
  for (const auto& o : outs)
    if (o.dtype == DType::F32) return o.name;
  throw BadInput("--accuracy-target needs a model with a float output (logits)");
}

}  // namespace

std::vector<Tensor> LabelledSet::outputs(const Session& session) const {
  const std::string out = logits_output(session);
  std::vector<Tensor> r;
  for (const auto& x : samples_) r.push_back(session.run(x.inputs, {out}).at(out));
  return r;
}

double LabelledSet::accuracy(const std::vector<Tensor>& logits) const {
  int64_t right = 0, total = 0;
  for (size_t i = 0; i < samples_.size(); ++i) {
    const Tensor& t = logits[i];
    int64_t c = t.dim(-1), rows = t.numel() / c;
    KILN_CHECK(rows == (int64_t)samples_[i].labels.size(), BadInput,
               "evaluation sample {}: {} labels for {} rows of logits", i + 1, samples_[i].labels.size(), rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* p = t.data<float>() + r * c;
      int64_t best = std::max_element(p, p + c) - p;
      right += best == samples_[i].labels[r];
      ++total;
    }
  }
  return total ? 100.0 * right / total : 0.0;
}

std::unique_ptr<quantize::AccuracyProbe> labelled_set_probe(const std::string& path,
                                                            const std::vector<std::string>& input_names) {
  return std::make_unique<LabelledSet>(read_labelled_set(path, input_names));
}

}  // namespace kiln::eval
