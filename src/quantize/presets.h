// Optimum's AutoQuantizationConfig presets (avx512_vnni, avx512, avx2, arm64, tensorrt), with
// per-channel off unless asked, as `optimum-cli onnxruntime quantize` does.
#pragma once
#include <string>
#include <vector>

#include "quantize/options.h"

namespace kiln::quant {

// Names kiln accepts, in the order the docs list them.
const std::vector<std::string>& preset_names();
// Settings of a preset for dynamic (is_static false) or static quantization. tensorrt is always
// static. Throws BadInput naming the known presets for an unknown name.
Options preset_options(const std::string& name, bool is_static);
// Refuses combinations ONNX Runtime cannot run (dynamic with int8 activations, static s8 x u8).
void validate_options(const Options& o);

}  // namespace kiln::quant
