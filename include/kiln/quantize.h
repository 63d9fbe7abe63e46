// kiln/quantize.h: INT8 quantization of a .onnx file or a whole model folder, with Optimum's
// presets and ONNX Runtime's semantics (the files run in ONNX Runtime and in kiln).
//
//   kiln::quant::Options o = kiln::quant::preset_options("avx512_vnni", /*is_static=*/false);
//   kiln::quant::set_option(o, "per_channel", "true");           // settings by name, from strings
//   kiln::quant::Report r = kiln::quant::quantize_path("model_dir", "model_dir-int8", o);
//   std::cout << kiln::quant::render_report(r);
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/api.h"
#include "kiln/session.h"
#include "kiln/tensor.h"

namespace kiln::quant {

// QOperator: integer ops (MatMulInteger, QLinearMatMul). QDQ: QuantizeLinear/DequantizeLinear pairs
// around float ops, which a runtime fuses back into integer kernels.
enum class Format { QOperator, QDQ };
enum class CalibrationMethod { MinMax, Entropy, Percentile };

// What quantization does to a model: the settings a preset fills in and callers override.
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
  bool quantize_embeddings = false;    // Gather tables stored int8 + DequantizeLinear
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

KILN_API const char* format_name(Format f);
KILN_API const char* calibration_method_name(CalibrationMethod m);

// Optimum's AutoQuantizationConfig presets (avx512_vnni, avx512, avx2, arm64, tensorrt), with
// per-channel off unless asked, as `optimum-cli onnxruntime quantize` does. Names in the order the
// docs list them.
KILN_API const std::vector<std::string>& preset_names();
// Settings of a preset for dynamic (is_static false) or static quantization. tensorrt is always
// static. Throws BadInput naming the known presets for an unknown name.
KILN_API Options preset_options(const std::string& name, bool is_static);
// Refuses combinations ONNX Runtime cannot run (dynamic with int8 activations, static s8 x u8).
KILN_API void validate_options(const Options& o);

// Sets one field of `o` from a string, by its name in Options ("per_channel", "weight_type", ...;
// a leading "--" and '-' for '_' are accepted, so command-line flags map one to one). Values:
// booleans true/false/1/0; types int8/uint8 (s8/u8, QInt8/QUInt8); format qoperator/qdq;
// calibration_method minmax/entropy/percentile; lists (ops, nodes_to_quantize, nodes_to_exclude)
// comma-separated. ops takes MatMul, Gemm, Gather (quantize_embeddings) and Add (stays float).
// Throws BadInput naming the option as given and what it takes.
KILN_API void set_option(Options& o, const std::string& name, const std::string& value);
// The names set_option() knows.
KILN_API std::vector<std::string> option_names();

// Per graph: what was quantized, what stayed float and why.
struct GraphStats {
  std::map<std::string, int> quantized;      // op type -> nodes quantized
  std::map<std::string, int> left_float;     // op type -> nodes of the requested types left in float
  std::map<std::string, int> reasons;        // why nodes were left in float -> count
  int64_t weights_quantized = 0;             // float parameters replaced by 8-bit ones
  std::vector<std::string> quantized_nodes;  // names of the nodes rewritten
  std::vector<std::string> warnings;
  KILN_API int total_quantized() const;
};

struct FileReport {
  std::string name;          // file name in OUT
  std::string role;          // "graph", "weights" (shared external data), "copied"
  int64_t bytes_before = 0;  // the input file(s) it came from (a graph: with its external data)
  int64_t bytes_after = 0;
  GraphStats stats;  // graphs only
};

// What a quantization run did: sizes per file and in total, nodes quantized per op type, ops left
// in float and why, time taken, warnings.
struct Report {
  std::string input, output;
  Options options;
  std::vector<FileReport> files;
  int64_t bytes_deduplicated = 0;  // identical weights stored once across graphs
  double seconds = 0;
  std::vector<std::string> warnings;
  // accuracy_target: fp32 / all-quantized / final accuracy (percent) and the nodes kept float.
  bool accuracy_tuned = false;
  double accuracy_fp32 = 0, accuracy_all_quantized = 0, accuracy_final = 0;
  std::vector<std::string> kept_float;

  KILN_API int64_t graph_bytes_before() const;  // graphs and their weights (copied files excluded)
  KILN_API int64_t graph_bytes_after() const;
  KILN_API int total_quantized() const;
};

// The report as `kiln quantize` prints it: a table, or one line of JSON (`--json`).
KILN_API std::string render_report(const Report& r);
KILN_API std::string report_json(const Report& r);

// Progress lines ("quantizing decoder_model.onnx"); may be empty.
using ProgressFn = std::function<void(const std::string&)>;

// IN: a .onnx file, or a folder (model.onnx, encoder_model.onnx, decoder_model.onnx,
// decoder_with_past_model.onnx, decoder_model_merged.onnx are quantized in one run; config,
// generation config and tokenizer files copied; kiln_quantize.json and ort_config.json written).
// OUT: for a file, a .onnx path or a folder; for a folder, a folder (created when missing).
// Never writes into IN; every file goes to a temporary name and is renamed when complete.
// Throws BadInput (refusals), BadModel (IN is not ONNX), IoError.
KILN_API Report quantize_path(const std::string& in, const std::string& out, const Options& options,
                              const ProgressFn& progress = {});

// What `accuracy_target` scores a graph with: runs a session over a labelled set and says how many
// it answered right. quantize_path() above uses kiln's own for `eval_data` (JSON lines of labelled
// inputs, docs/quantization.md); a program may score its own way with the overload below.
class AccuracyProbe {
 public:
  virtual ~AccuracyProbe() = default;
  // One output tensor per sample of the set: what accuracy() scores and what the search compares
  // (mean squared difference from fp32) to rank the nodes by sensitivity.
  virtual std::vector<Tensor> outputs(const Session& session) const = 0;
  // Percent of the set answered right from outputs().
  virtual double accuracy(const std::vector<Tensor>& outputs) const = 0;
};

// Makes the probe for options.eval_data and a graph whose fed inputs are `input_names`.
using AccuracyProbeMaker =
    std::function<std::unique_ptr<AccuracyProbe>(const std::string& eval_data, const std::vector<std::string>& input_names)>;

// quantize_path with `probe` making the scorer of accuracy_target (an empty one: a target is
// refused with Unsupported).
KILN_API Report quantize_path(const std::string& in, const std::string& out, const Options& options,
                              const ProgressFn& progress, const AccuracyProbeMaker& probe);

}  // namespace kiln::quant
