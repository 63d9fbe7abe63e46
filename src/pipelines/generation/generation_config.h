// GenerationConfig and GenerationOptions are public (include/kiln/pipeline.h); the generation code
// names the config generation::.
#pragma once
#include <nlohmann/json.hpp>

#include "kiln/pipeline.h"

namespace kiln::pipelines::generation {

using GenerationConfig = kiln::GenerationConfig;

// GenerationOptions::from_json on a parsed object.
GenerationOptions generation_options_from_json(const nlohmann::json& j);
// Writes the set fields of `o` into `c` without checking the result (a model's config layers; the
// caller's layers go through GenerationOptions::apply_to, which checks).
void overlay(const GenerationOptions& o, GenerationConfig& c);

}  // namespace kiln::pipelines::generation
