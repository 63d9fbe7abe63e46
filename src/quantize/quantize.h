// kiln's quantization entry point, quantize_path(), is public (include/kiln/quantize.h).
#pragma once
#include "quantize/options.h"
#include "quantize/report.h"
