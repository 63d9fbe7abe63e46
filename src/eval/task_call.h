// The typed call of a pipeline's task (kiln/pipeline.h: classify, tag, answer, embed, fill,
// generate), run for its cost: `kiln bench` and `kiln report` time what a program calling the
// pipeline pays (tokenize, run, post-process into the typed results).
#pragma once
#include <vector>

#include "kiln/pipeline.h"

namespace kiln::eval {

// Runs `inputs` through the call pipe.task() answers and drops the results.
void run_task_call(Pipeline& pipe, const std::vector<PipelineInput>& inputs);

}  // namespace kiln::eval
