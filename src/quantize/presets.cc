#include "quantize/presets.h"

#include "core/error.h"

namespace kiln::quantize {

const char* format_name(Format f) { return f == Format::QDQ ? "QDQ" : "QOperator"; }

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::Entropy: return "entropy";
    case CalibrationMethod::Percentile: return "percentile";
    default: return "minmax";
  }
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"avx512_vnni", "avx512", "avx2", "arm64", "tensorrt"};
  return names;
}

Options preset_options(const std::string& name, bool is_static) {
  Options o;
  o.preset = name;
  o.is_static = is_static;
  // Optimum: QDQ for static, QOperator (IntegerOps) for dynamic; u8 activations, asymmetric;
  // s8 symmetric weights; reduce_range off. Optimum's own per_channel default is True, but its CLI
  // turns it off unless --per_channel is given; kiln does the same.
  o.format = is_static ? Format::QDQ : Format::QOperator;
  o.activation_type = DType::U8;
  o.activation_symmetric = false;
  o.weight_type = DType::I8;
  o.weight_symmetric = true;
  o.per_channel = false;
  o.reduce_range = false;
  if (name == "avx512_vnni" || name == "avx512" || name == "arm64") {
    // same settings; they differ in Optimum only in which knobs the caller may change
  } else if (name == "avx2") {
    o.weight_type = DType::U8;  // u8 x u8 avoids the u8 x s8 saturation of pre-VNNI AVX2 kernels
  } else if (name == "tensorrt") {
    o.is_static = true;
    o.format = Format::QDQ;
    o.activation_type = DType::I8;
    o.activation_symmetric = true;
    // int8 weights + DequantizeLinear: TensorRT takes pre-quantized INT8 weights behind a DQ layer,
    // and the file is smaller than the float one. --qdq-weight-pairs gives Optimum's float-weight form.
    o.qdq_dedicated_pair = true;
  } else {
    throw BadInput(fmt::format("unknown preset '{}': use avx512_vnni, avx512, avx2, arm64 or tensorrt", name));
  }
  return o;
}

void validate_options(const Options& o) {
  auto is8 = [](DType t) { return t == DType::U8 || t == DType::I8; };
  KILN_CHECK(is8(o.activation_type) && is8(o.weight_type), BadInput,
             "activation and weight types must be int8 or uint8");
  KILN_CHECK(o.is_static || o.activation_type == DType::U8, BadInput,
             "dynamic quantization needs uint8 activations (DynamicQuantizeLinear makes uint8); use "
             "--activation-type uint8 or --static");
  KILN_CHECK(!(o.is_static && o.activation_type == DType::I8 && o.weight_type == DType::U8), BadInput,
             "int8 activations with uint8 weights are not supported by ONNX Runtime; use --weight-type int8");
  KILN_CHECK(!o.is_static || !o.calibration_data.empty(), BadInput,
             "static quantization needs calibration data: add --calibration-data FILE (tensor JSON or jsonl), "
             "or drop --static for dynamic quantization");
  KILN_CHECK(o.accuracy_target < 0 || !o.eval_data.empty(), BadInput,
             "--accuracy-target needs labelled samples: add --eval-data FILE (JSON lines with \"label\" and the inputs)");
  KILN_CHECK(o.percentile > 0 && o.percentile <= 100, BadInput, "--percentile must be in (0, 100], got {}",
             o.percentile);
}

}  // namespace kiln::quantize
