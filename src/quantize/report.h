// What a `kiln quantize` run did: sizes per file and in total, nodes quantized per op type, ops
// left in float and why, time taken, warnings. Rendered as a table or as JSON.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantize/context.h"
#include "quantize/options.h"

namespace kiln::quantize {

// FileReport, Report and render_report() are public (include/kiln/quantize.h).

nlohmann::json report_to_json(const Report& r);
// Optimum's ort_config.json for these settings (so Optimum users see what was done).
nlohmann::json ort_config_json(const Options& o);
// kiln's own record of the settings.
nlohmann::json options_to_json(const Options& o);

}  // namespace kiln::quantize
