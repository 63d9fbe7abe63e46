#include "eval/task_call.h"

namespace kiln::eval {

void run_task_call(Pipeline& pipe, const std::vector<PipelineInput>& inputs) {
  const std::string& t = pipe.task();
  if (t == "text-classification" || t == "sentiment-analysis") pipe.classify(inputs);
  else if (t == "token-classification" || t == "ner") pipe.tag(inputs);
  else if (t == "question-answering") pipe.answer(inputs);
  else if (t == "feature-extraction") pipe.embed(inputs);
  else if (t == "fill-mask") pipe.fill(inputs);
  else pipe.generate(inputs);  // text2text-generation, summarization, translation*, text-generation
}

}  // namespace kiln::eval
