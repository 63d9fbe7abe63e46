#include "quantize/accuracy_target.h"

#include <algorithm>

#include "quantize/quantize_model.h"
#include "runtime/session.h"

namespace kiln::quantize {

namespace {

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

std::vector<Tensor> outputs_of(const Model& m, const AccuracyProbe& probe, int threads) {
  SessionOptions so;
  so.threads = threads;
  return probe.outputs(Session(Model(m), so));
}

}  // namespace

AccuracyResult tune_for_accuracy(const Model& model, const Options& options, const AccuracyProbe& probe) {
  AccuracyResult r;
  const int threads = options.threads;
  std::vector<Tensor> ref = outputs_of(model, probe, threads);
  r.fp32 = probe.accuracy(ref);
  GraphStats all;
  Model q = quantized(model, options, &all);
  r.quantized_all = r.final = probe.accuracy(outputs_of(q, probe, threads));
  r.evaluations = 2;
  if (r.fp32 - r.final <= options.accuracy_target) return r;

  // Sensitivity of each quantized node alone.
  std::vector<std::pair<double, std::string>> sens;
  for (const auto& name : all.quantized_nodes) {
    if (name.empty()) continue;  // unnamed nodes cannot be selected by name
    Options one = options;
    one.nodes_to_quantize = {name};
    sens.push_back({mse(outputs_of(quantized(model, one), probe, threads), ref), name});
    ++r.evaluations;
  }
  std::sort(sens.begin(), sens.end(), std::greater<>());
  Options o = options;
  for (const auto& [err, name] : sens) {
    o.nodes_to_exclude.push_back(name);
    r.kept_float.push_back(name);
    r.final = probe.accuracy(outputs_of(quantized(model, o), probe, threads));
    ++r.evaluations;
    if (r.fp32 - r.final <= options.accuracy_target) break;
  }
  return r;
}

}  // namespace kiln::quantize
