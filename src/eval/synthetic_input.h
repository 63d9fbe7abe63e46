// Inputs of an exact token length for `kiln bench --seq-len L`: a text of one repeated word that the
// folder's tokenizer turns into exactly L tokens, special tokens (and a generation task's prefix)
// included; fill-mask's text ends in the mask token. When no such text exists, or the folder has no
// tokenizer, the input is L token ids given directly (the tokenizer is then not timed).
#pragma once
#include <cstddef>
#include <string>

#include "kiln/model_folder.h"
#include "kiln/pipeline.h"
#include "kiln/tokenizer.h"

namespace kiln::eval {

// `tokenizer`: the folder's (nullptr when it has none). `is_text` tells which of the two forms was made.
PipelineInput synthetic_input(const ModelFolder& folder, const Tokenizer* tokenizer, const std::string& task,
                              size_t seq_len, bool* is_text);

}  // namespace kiln::eval
