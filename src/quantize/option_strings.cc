// set_option(): quantization settings by name from strings, so the command line, the Python module
// and any caller parse them the same way.
#include <cerrno>
#include <cstdlib>
#include <type_traits>

#include "core/error.h"
#include "quantize/options.h"

namespace kiln::quantize {
namespace {

// "--per-channel" -> "per_channel"
std::string canonical(const std::string& name) {
  std::string s = name.rfind("--", 0) == 0 ? name.substr(2) : name;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

std::vector<std::string> split_commas(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (comma > start) out.push_back(v.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool to_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1" || v == "True") return true;
  if (v == "false" || v == "0" || v == "False") return false;
  throw BadInput(fmt::format("{} must be true or false, not '{}'", name, v));
}

DType int_type(const std::string& name, const std::string& v) {
  if (v == "int8" || v == "s8" || v == "QInt8") return DType::I8;
  if (v == "uint8" || v == "u8" || v == "QUInt8") return DType::U8;
  throw BadInput(fmt::format("{} must be int8 or uint8, not '{}'", name, v));
}

template <typename T>
T to_number(const std::string& name, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  T out{};
  if constexpr (std::is_floating_point_v<T>) {
    out = (T)std::strtod(v.c_str(), &end);
  } else {
    long long n = std::strtoll(v.c_str(), &end, 10);
    out = (T)n;
    if ((long long)out != n) errno = ERANGE;
  }
  KILN_CHECK(!v.empty() && end && *end == '\0' && errno == 0, BadInput, "{} must be a number, not '{}'", name, v);
  return out;
}

}  // namespace

std::vector<std::string> option_names() {
  return {"format",
          "weight_type",
          "activation_type",
          "per_channel",
          "reduce_range",
          "ops",
          "nodes_to_quantize",
          "nodes_to_exclude",
          "quantize_embeddings",
          "min_embedding_elements",
          "calibration_data",
          "calibration_method",
          "percentile",
          "calibration_samples",
          "num_bins",
          "accuracy_target",
          "eval_data",
          "share_weights",
          "threads"};
}

void set_option(Options& o, const std::string& name, const std::string& v) {
  const std::string key = canonical(name);
  if (key == "format") {
    if (v == "qoperator" || v == "QOperator") o.format = Format::QOperator;
    else if (v == "qdq" || v == "QDQ") o.format = Format::QDQ;
    else throw BadInput(fmt::format("{} must be qoperator or qdq, not '{}'", name, v));
  } else if (key == "weight_type") {
    o.weight_type = int_type(name, v);
  } else if (key == "activation_type") {
    o.activation_type = int_type(name, v);
  } else if (key == "per_channel") {
    o.per_channel = to_bool(name, v);
  } else if (key == "reduce_range") {
    o.reduce_range = to_bool(name, v);
  } else if (key == "ops" || key == "op_types") {
    o.op_types.clear();
    for (const auto& op : split_commas(v)) {
      if (op == "Gather") o.quantize_embeddings = true;
      else if (op == "MatMul" || op == "Gemm") o.op_types.push_back(op);
      else if (op != "Add")
        throw BadInput(fmt::format("{}: kiln quantizes MatMul, Gemm and Gather, not '{}'", name, op));
    }
  } else if (key == "nodes_to_quantize" || key == "nodes") {
    o.nodes_to_quantize = split_commas(v);
  } else if (key == "nodes_to_exclude" || key == "exclude_nodes") {
    o.nodes_to_exclude = split_commas(v);
  } else if (key == "quantize_embeddings") {
    o.quantize_embeddings = to_bool(name, v);
  } else if (key == "min_embedding_elements") {
    o.min_embedding_elements = to_number<int64_t>(name, v);
    KILN_CHECK(o.min_embedding_elements >= 0, BadInput, "{} must be >= 0", name);
  } else if (key == "calibration_data") {
    o.calibration_data = v;
  } else if (key == "calibration_method") {
    if (v == "minmax") o.calibration_method = CalibrationMethod::MinMax;
    else if (v == "entropy") o.calibration_method = CalibrationMethod::Entropy;
    else if (v == "percentile") o.calibration_method = CalibrationMethod::Percentile;
    else throw BadInput(fmt::format("{} must be minmax, entropy or percentile, not '{}'", name, v));
  } else if (key == "percentile") {
    o.percentile = to_number<double>(name, v);
  } else if (key == "calibration_samples") {
    o.calibration_samples = to_number<int>(name, v);
  } else if (key == "num_bins") {
    o.num_bins = to_number<int>(name, v);
  } else if (key == "accuracy_target") {
    o.accuracy_target = to_number<double>(name, v);
  } else if (key == "eval_data") {
    o.eval_data = v;
  } else if (key == "share_weights") {
    o.share_weights = to_bool(name, v);
  } else if (key == "threads") {
    o.threads = to_number<int>(name, v);
  } else {
    std::string known;
    for (const auto& n : option_names()) known += (known.empty() ? "" : ", ") + n;
    throw BadInput(fmt::format("unknown quantization option '{}'; kiln knows: {}", name, known));
  }
}

}  // namespace kiln::quantize
