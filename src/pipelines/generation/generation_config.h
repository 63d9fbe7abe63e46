// GenerationConfig is public (include/kiln/pipeline.h); the generation code names it gen::.
#pragma once
#include "kiln/pipeline.h"

namespace kiln::gen {

using GenerationConfig = kiln::GenerationConfig;

}  // namespace kiln::gen
