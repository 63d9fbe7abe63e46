// Export task names as Optimum spells them, their older aliases, and the task a transformers model
// class implies (for --task auto).
#pragma once
#include <string>
#include <vector>

#include "kiln/model_folder.h"

namespace kiln::exporting {

// Tasks some architecture of kiln's exporter writes (Optimum's names).
const std::vector<std::string>& known_tasks();

// Maps aliases to Optimum's current names: "-with-past" spellings to the task itself
// (text2text-generation-with-past -> text2text-generation), seq2seq-lm -> text2text-generation,
// causal-lm -> text-generation, sequence-classification -> text-classification, masked-lm ->
// fill-mask, default -> feature-extraction. Anything else is returned as it is.
std::string canonical_task(const std::string& task);

// task_for_class (the task a model class of config.json's `architectures` implies) is
// kiln/model_folder.h's: one table for export's --task auto and the pipelines' inferred task.

}  // namespace kiln::exporting
