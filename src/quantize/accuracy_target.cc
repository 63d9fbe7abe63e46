#include "quantize/accuracy_target.h"

#include <algorithm>
#include <fstream>

#include "quantize/quantize_model.h"
#include "runtime/session.h"

namespace kiln::quant {

std::vector<LabelledSample> load_eval_data(const std::string& path, const Model& model) {
  std::ifstream f(path);
  KILN_CHECK(f.good(), IoError, "cannot read evaluation data {}", path);
  std::vector<LabelledSample> out;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw BadInput(fmt::format("{} line {}: not JSON ({})", path, n, e.what()));
    }
    KILN_CHECK(j.is_object() && j.contains("label"), BadInput,
               "{} line {}: expected {{\"label\": N, \"<input>\": {{tensor}}, ...}}", path, n);
    LabelledSample s;
    if (j["label"].is_array())
      for (const auto& l : j["label"]) s.labels.push_back(l.get<int64_t>());
    else
      s.labels.push_back(j["label"].get<int64_t>());
    for (const auto& in : model.graph.inputs) {
      if (model.graph.is_initializer(in.name)) continue;
      KILN_CHECK(j.contains(in.name), BadInput, "{} line {}: no input '{}'", path, n, in.name);
      s.inputs[in.name] = tensor_from_json(j[in.name], in.name);
    }
    out.push_back(std::move(s));
  }
  KILN_CHECK(!out.empty(), BadInput, "evaluation data {} holds no samples", path);
  return out;
}

namespace {

std::string first_float_output(const Model& m) {
  for (const auto& o : m.graph.outputs)
    if (o.name == "logits") return o.name;
  for (const auto& o : m.graph.outputs)
    if (o.dtype == DType::F32) return o.name;
  throw BadInput("--accuracy-target needs a model with a float output (logits)");
}

std::vector<Tensor> run_all(const Model& m, const std::vector<LabelledSample>& samples, int threads) {
  SessionOptions so;
  so.threads = threads;
  Session s(Model(m), so);
  std::string out = first_float_output(m);
  std::vector<Tensor> r;
  for (const auto& x : samples) r.push_back(s.run(x.inputs, {out}).at(out));
  return r;
}

double accuracy_of(const std::vector<Tensor>& logits, const std::vector<LabelledSample>& samples) {
  int64_t right = 0, total = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& t = logits[i];
    int64_t c = t.dim(-1), rows = t.numel() / c;
    KILN_CHECK(rows == (int64_t)samples[i].labels.size(), BadInput,
               "evaluation sample {}: {} labels for {} rows of logits", i + 1, samples[i].labels.size(), rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* p = t.data<float>() + r * c;
      int64_t best = std::max_element(p, p + c) - p;
      right += best == samples[i].labels[r];
      ++total;
    }
  }
  return total ? 100.0 * right / total : 0.0;
}

double mse(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double s = 0;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t k = 0; k < a[i].numel(); ++k) {
      double d = (double)a[i].data<float>()[k] - b[i].data<float>()[k];
      s += d * d;
      ++n;
    }
  return n ? s / n : 0;
}

Model quantized(const Model& fp32, const Options& o, GraphStats* stats = nullptr) {
  Model m = fp32;
  GraphStats st = quantize_model(m, o);
  if (stats) *stats = st;
  return m;
}

}  // namespace

double accuracy(const Model& model, const std::vector<LabelledSample>& samples, int threads) {
  return accuracy_of(run_all(model, samples, threads), samples);
}

AccuracyResult tune_for_accuracy(const Model& model, const Options& options, const std::vector<LabelledSample>& samples) {
  AccuracyResult r;
  std::vector<Tensor> ref = run_all(model, samples, options.threads);
  r.fp32 = accuracy_of(ref, samples);
  GraphStats all;
  Model q = quantized(model, options, &all);
  r.quantized_all = r.final = accuracy_of(run_all(q, samples, options.threads), samples);
  r.evaluations = 2;
  if (r.fp32 - r.final <= options.accuracy_target) return r;

  // Sensitivity of each quantized node alone.
  std::vector<std::pair<double, std::string>> sens;
  for (const auto& name : all.quantized_nodes) {
    if (name.empty()) continue;  // unnamed nodes cannot be selected by name
    Options one = options;
    one.nodes_to_quantize = {name};
    sens.push_back({mse(run_all(quantized(model, one), samples, options.threads), ref), name});
    ++r.evaluations;
  }
  std::sort(sens.begin(), sens.end(), std::greater<>());
  Options o = options;
  for (const auto& [err, name] : sens) {
    o.nodes_to_exclude.push_back(name);
    r.kept_float.push_back(name);
    r.final = accuracy_of(run_all(quantized(model, o), samples, options.threads), samples);
    ++r.evaluations;
    if (r.fp32 - r.final <= options.accuracy_target) break;
  }
  return r;
}

}  // namespace kiln::quant
