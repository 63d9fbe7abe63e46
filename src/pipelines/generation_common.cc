// What the generation tasks share: caller options over model defaults, JSON results.
#include "core/error.h"
#include "pipelines/tasks.h"

namespace kiln::pipelines {

nlohmann::json generation_to_json(const Generation& g) {
  nlohmann::json j;
  j["sequences"] = g.sequences;
  if (!g.scores.empty()) j["sequences_scores"] = g.scores;
  if (!g.texts.empty()) {
    j["generated_text"] = g.texts[0];
    if (g.texts.size() > 1) j["generated_texts"] = g.texts;
  }
  return j;
}

}  // namespace kiln::pipelines
