// kiln's quantization entry point: a .onnx file or a whole model folder in, a quantized copy out.
#pragma once
#include <functional>
#include <string>

#include "quantize/options.h"
#include "quantize/report.h"

namespace kiln::quant {

// Progress lines ("quantizing decoder_model.onnx") for the CLI; may be empty.
using ProgressFn = std::function<void(const std::string&)>;

// IN: a .onnx file, or a folder (model.onnx, encoder_model.onnx, decoder_model.onnx,
// decoder_with_past_model.onnx, decoder_model_merged.onnx are quantized in one run; config,
// generation config and tokenizer files copied; kiln_quantize.json and ort_config.json written).
// OUT: for a file, a .onnx path or a folder; for a folder, a folder (created when missing).
// Never writes into IN; every file goes to a temporary name and is renamed when complete.
// Throws BadInput (refusals), BadModel (IN is not ONNX), IoError.
Report quantize_path(const std::string& in, const std::string& out, const Options& options,
                     const ProgressFn& progress = {});

}  // namespace kiln::quant
