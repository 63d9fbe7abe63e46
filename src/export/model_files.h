// The files of an exported folder besides the graphs: generation_config.json derived from
// config.json, and the tokenizer files copied from the checkpoint.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln {

// What transformers' GenerationConfig.from_model_config(config).save_pretrained() writes: the
// generation fields of config.json that differ from GenerationConfig's defaults (special ids,
// max_length, num_beams ...), missing ones taken from a `decoder` sub-config, plus
// "_from_model_config": true.
nlohmann::json generation_config_from_model_config(const nlohmann::json& config);

// Every tokenizer file kiln or transformers reads (tokenizer.json, tokenizer_config.json,
// special_tokens_map.json, vocab.txt, vocab.json, merges.txt, spiece.model, tokenizer.model,
// sentencepiece.bpe.model, source.spm, target.spm, added_tokens.json).
const std::vector<std::string>& tokenizer_files();

// Copies src_dir's tokenizer files into dst_dir; returns their names. kiln's tokenizer.txt pointer
// (a folder relative to the model folder) is rewritten relative to final_dir, where dst_dir will be
// renamed to.
std::vector<std::string> copy_tokenizer_files(const std::string& src_dir, const std::string& dst_dir,
                                              const std::string& final_dir);

}  // namespace kiln
