// The presets (Optimum's AutoQuantizationConfig) and set_option() are public
// (include/kiln/quantize.h): preset_names(), preset_options(), validate_options(). Implemented in
// presets.cc and option_strings.cc.
#pragma once
#include "quantize/options.h"
