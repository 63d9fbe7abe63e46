#include "quantize/report.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::quantize {

int64_t Report::graph_bytes_before() const {
  int64_t n = 0;
  for (const auto& f : files)
    if (f.role != "copied") n += f.bytes_before;
  return n;
}

int64_t Report::graph_bytes_after() const {
  int64_t n = 0;
  for (const auto& f : files)
    if (f.role != "copied") n += f.bytes_after;
  return n;
}

int Report::total_quantized() const {
  int n = 0;
  for (const auto& f : files) n += f.stats.total_quantized();
  return n;
}

namespace {

std::string mb(int64_t b) { return fmt::format("{:.2f} MB", b / 1e6); }
std::string pct(int64_t after, int64_t before) {
  return before > 0 ? fmt::format("{:.1f} %", 100.0 * after / before) : std::string("-");
}
std::string counts(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", k, v);
  return s.empty() ? "-" : s;
}
const char* qtype(DType t) { return t == DType::I8 ? "QInt8" : "QUInt8"; }

}  // namespace

std::string render_report(const Report& r) {
  std::string s;
  const Options& o = r.options;
  s += fmt::format("kiln quantize: {} -> {}\n", r.input, r.output);
  s += fmt::format("settings: {}{}, {}, activations {} {}, weights {} {}, {}{}{}\n",
                   o.preset.empty() ? "" : "preset " + o.preset + ", ", o.is_static ? "static" : "dynamic",
                   format_name(o.format), o.activation_type == DType::I8 ? "s8" : "u8",
                   o.activation_symmetric ? "symmetric" : "asymmetric", o.weight_type == DType::I8 ? "s8" : "u8",
                   o.weight_symmetric ? "symmetric" : "asymmetric", o.per_channel ? "per channel" : "per tensor",
                   o.reduce_range ? ", reduce range" : "",
                   o.is_static ? fmt::format(", calibration {}", calibration_method_name(o.calibration_method)) : "");
  s += fmt::format("\n{:<34} {:>12} {:>12} {:>8}  {}\n", "file", "before", "after", "ratio", "quantized nodes");
  for (const auto& f : r.files) {
    if (f.role == "copied") continue;
    std::string q = f.role == "graph" ? counts(f.stats.quantized) : "(weights shared by the graphs)";
    s += fmt::format("{:<34} {:>12} {:>12} {:>8}  {}\n", f.name, f.role == "graph" || f.bytes_before ? mb(f.bytes_before) : "-",
                     mb(f.bytes_after), f.bytes_before ? pct(f.bytes_after, f.bytes_before) : "", q);
  }
  s += fmt::format("{:<34} {:>12} {:>12} {:>8}  {} nodes\n", "total", mb(r.graph_bytes_before()),
                   mb(r.graph_bytes_after()), pct(r.graph_bytes_after(), r.graph_bytes_before()), r.total_quantized());
  if (r.bytes_deduplicated > 0)
    s += fmt::format("weights shared between graphs and stored once: {} saved\n", mb(r.bytes_deduplicated));
  std::map<std::string, int> left, reasons;
  for (const auto& f : r.files) {
    for (const auto& [k, v] : f.stats.left_float) left[k] += v;
    for (const auto& [k, v] : f.stats.reasons) reasons[k] += v;
  }
  if (!left.empty()) {
    s += fmt::format("left in float: {}", counts(left));
    std::string why;
    for (const auto& [k, v] : reasons) why += fmt::format("{}{}: {}", why.empty() ? "" : "; ", k, v);
    s += fmt::format(" ({})\n", why);
  }
  int copied = 0;
  for (const auto& f : r.files) copied += f.role == "copied";
  if (copied) s += fmt::format("copied {} file(s) (config, tokenizer)\n", copied);
  if (r.accuracy_tuned)
    s += fmt::format("accuracy: fp32 {:.2f} %, all quantized {:.2f} %, final {:.2f} % with {} node(s) kept float{}{}\n",
                     r.accuracy_fp32, r.accuracy_all_quantized, r.accuracy_final, r.kept_float.size(),
                     r.kept_float.empty() ? "" : ": ", fmt::format("{}", fmt::join(r.kept_float, ", ")));
  s += fmt::format("time: {:.2f} s\n", r.seconds);
  return s;
}

nlohmann::json options_to_json(const Options& o) {
  nlohmann::json j;
  j["preset"] = o.preset;
  j["is_static"] = o.is_static;
  j["format"] = format_name(o.format);
  j["activation_type"] = std::string(dtype_name(o.activation_type));
  j["activation_symmetric"] = o.activation_symmetric;
  j["weight_type"] = std::string(dtype_name(o.weight_type));
  j["weight_symmetric"] = o.weight_symmetric;
  j["per_channel"] = o.per_channel;
  j["reduce_range"] = o.reduce_range;
  j["op_types"] = o.op_types;
  j["nodes_to_quantize"] = o.nodes_to_quantize;
  j["nodes_to_exclude"] = o.nodes_to_exclude;
  j["quantize_embeddings"] = o.quantize_embeddings;
  if (o.is_static) {
    j["calibration_method"] = calibration_method_name(o.calibration_method);
    if (o.calibration_method == CalibrationMethod::Percentile) j["percentile"] = o.percentile;
    j["calibration_samples"] = o.calibration_samples;
  }
  j["share_weights"] = o.share_weights;
  return j;
}

nlohmann::json ort_config_json(const Options& o) {
  nlohmann::json q;
  q["is_static"] = o.is_static;
  q["format"] = format_name(o.format);
  q["mode"] = o.is_static ? "QLinearOps" : "IntegerOps";
  q["activations_dtype"] = qtype(o.activation_type);
  q["activations_symmetric"] = o.activation_symmetric;
  q["weights_dtype"] = qtype(o.weight_type);
  q["weights_symmetric"] = o.weight_symmetric;
  q["per_channel"] = o.per_channel;
  q["reduce_range"] = o.reduce_range;
  q["nodes_to_quantize"] = o.nodes_to_quantize;
  q["nodes_to_exclude"] = o.nodes_to_exclude;
  std::vector<std::string> ops = o.op_types;
  if (o.quantize_embeddings) ops.push_back("Gather");
  q["operators_to_quantize"] = ops;
  q["qdq_add_pair_to_weight"] = o.qdq_add_pair_to_weight;
  q["qdq_dedicated_pair"] = o.qdq_dedicated_pair;
  q["qdq_op_type_per_channel_support_to_axis"] = {{"MatMul", 1}};
  nlohmann::json j;
  j["one_external_file"] = true;
  j["opset"] = nullptr;
  j["optimization"] = nlohmann::json::object();
  j["quantization"] = q;
  j["use_external_data_format"] = false;
  j["created_by"] = "kiln quantize";
  return j;
}

nlohmann::json report_to_json(const Report& r) {
  nlohmann::json j;
  j["input"] = r.input;
  j["output"] = r.output;
  j["options"] = options_to_json(r.options);
  j["files"] = nlohmann::json::array();
  for (const auto& f : r.files) {
    nlohmann::json fj;
    fj["name"] = f.name;
    fj["role"] = f.role;
    fj["bytes_before"] = f.bytes_before;
    fj["bytes_after"] = f.bytes_after;
    if (f.role == "graph") {
      fj["quantized"] = f.stats.quantized;
      fj["left_float"] = f.stats.left_float;
      fj["left_float_reasons"] = f.stats.reasons;
      fj["weights_quantized"] = f.stats.weights_quantized;
    }
    j["files"].push_back(fj);
  }
  j["total_bytes_before"] = r.graph_bytes_before();
  j["total_bytes_after"] = r.graph_bytes_after();
  j["ratio"] = r.graph_bytes_before() ? (double)r.graph_bytes_after() / r.graph_bytes_before() : 0.0;
  j["bytes_deduplicated"] = r.bytes_deduplicated;
  j["nodes_quantized"] = r.total_quantized();
  j["seconds"] = r.seconds;
  j["warnings"] = r.warnings;
  if (r.accuracy_tuned)
    j["accuracy"] = {{"fp32", r.accuracy_fp32}, {"all_quantized", r.accuracy_all_quantized},
                     {"final", r.accuracy_final}, {"kept_float", r.kept_float}};
  return j;
}

}  // namespace kiln::quantize

namespace kiln::quantize {

std::string report_json(const Report& r) { return report_to_json(r).dump(); }

}  // namespace kiln::quantize
