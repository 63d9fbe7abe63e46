#include "export/tasks.h"

namespace kiln::exporting {

const std::vector<std::string>& known_tasks() {
  static const std::vector<std::string> tasks = {"feature-extraction", "fill-mask",           "question-answering",
                                                 "text-classification", "token-classification", "text-generation",
                                                 "text2text-generation"};
  return tasks;
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string canonical_task(const std::string& task) {
  std::string t = task;
  if (ends_with(t, "-with-past")) t.resize(t.size() - std::string("-with-past").size());
  if (t == "seq2seq-lm") return "text2text-generation";
  if (t == "causal-lm") return "text-generation";
  if (t == "sequence-classification") return "text-classification";
  if (t == "masked-lm") return "fill-mask";
  if (t == "default") return "feature-extraction";
  return t;
}

}  // namespace kiln::exporting
