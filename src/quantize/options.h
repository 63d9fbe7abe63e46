// What `kiln quantize` does to a model: the settings a preset fills in and flags override.
#pragma once
#include <string>
#include <vector>

#include "core/dtype.h"

namespace kiln::quant {

// QOperator: integer ops (MatMulInteger, QLinearMatMul). QDQ: QuantizeLinear/DequantizeLinear pairs
// around float ops, which a runtime fuses back into integer kernels.
enum class Format { QOperator, QDQ };
enum class CalibrationMethod { MinMax, Entropy, Percentile };

struct Options {
  std::string preset;  // the preset these settings came from ("" = none)
  bool is_static = false;
  Format format = Format::QOperator;
  DType activation_type = DType::U8;
  bool activation_symmetric = false;
  DType weight_type = DType::I8;
  bool weight_symmetric = true;
  bool per_channel = false;
  bool reduce_range = false;
  // Op types to quantize; Optimum's list is ["MatMul", "Add"] (Add has no integer form in either
  // mode and stays float, as in ONNX Runtime). Gemm is quantized like MatMul.
  std::vector<std::string> op_types = {"MatMul", "Gemm"};
  std::vector<std::string> nodes_to_quantize;  // empty: every node of the op types
  std::vector<std::string> nodes_to_exclude;
  bool quantize_embeddings = false;  // Gather tables stored int8 + DequantizeLinear
  int64_t min_embedding_elements = 0;  // tables with fewer values stay float (0: all, as ORT)
  // Static quantization (calibration).
  std::string calibration_data;
  CalibrationMethod calibration_method = CalibrationMethod::MinMax;
  double percentile = 99.999;
  int calibration_samples = 0;  // 0: all
  int num_bins = 0;             // 0: the method's default (percentile 2048, entropy 128)
  // TensorRT-style QDQ: weights keep a QuantizeLinear too, and each consumer gets its own pair.
  bool qdq_add_pair_to_weight = false;
  bool qdq_dedicated_pair = false;
  // Accuracy target: keep the quantized model within `accuracy_target` points (percent) of fp32
  // on a labelled set by leaving the most sensitive nodes in float. < 0: off.
  double accuracy_target = -1;
  std::string eval_data;
  // Folder mode: store initializers shared between graphs once (one external-data file).
  bool share_weights = true;
  int threads = 0;
};

const char* format_name(Format f);
const char* calibration_method_name(CalibrationMethod m);

}  // namespace kiln::quant
