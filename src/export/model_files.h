// generation_config.json derived from config.json, for an exported folder whose checkpoint has none.
// (Which files travel with a model is kiln::ModelFolder::travelling_files().)
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace kiln::exporting {

// What transformers' GenerationConfig.from_model_config(config).save_pretrained() writes: the
// generation fields of config.json that differ from GenerationConfig's defaults (special ids,
// max_length, num_beams ...), missing ones taken from a `decoder` sub-config, plus
// "_from_model_config": true.
nlohmann::json generation_config_from_model_config(const nlohmann::json& config);

}  // namespace kiln::exporting
