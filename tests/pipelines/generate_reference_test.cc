// Generation through kiln::pipeline() on the tiny fixtures against transformers' generate()
// (ref/generate_greedy.json, ref/generate_beam.json): ids exactly, beam scores within 1e-4;
// batches, the merged-free no-cache path and one-by-one runs all give the same.
#include <gtest/gtest.h>

#include "pipelines/pipeline.h"
#include "test_util.h"

using kiln::test::fixture;

namespace {

struct Ref {
  std::vector<std::vector<int64_t>> inputs, outputs;
  std::vector<double> scores;
  nlohmann::json kwargs;
};

Ref load(const std::string& model, const std::string& mode) {
  auto j = nlohmann::json::parse(kiln::read_file(fixture("models/" + model + "/ref/generate_" + mode + ".json")));
  Ref r;
  r.kwargs = j["generate_kwargs"];
  auto& t = j["tensors"];
  for (int i = 0; t.contains("input_ids." + std::to_string(i)); ++i) {
    r.inputs.push_back(t["input_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>());
    r.outputs.push_back(t["output_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>());
    if (t.contains("sequences_scores." + std::to_string(i)))
      r.scores.push_back(t["sequences_scores." + std::to_string(i)]["data"][0].get<double>());
  }
  return r;
}

kiln::PipelineOptions options_for(const Ref& r, size_t batch, bool cache) {
  kiln::PipelineOptions o;
  o.threads = 1;
  o.batch_size = batch;
  o.generation.max_new_tokens = r.kwargs["max_new_tokens"].get<int64_t>();
  o.generation.num_beams = r.kwargs["num_beams"].get<int>();
  if (r.kwargs.contains("length_penalty")) o.generation.length_penalty = r.kwargs["length_penalty"].get<float>();
  if (r.kwargs.contains("early_stopping")) o.generation.early_stopping = r.kwargs["early_stopping"].get<bool>();
  if (r.kwargs.contains("pad_token_id")) o.generation.pad_token_id = r.kwargs["pad_token_id"].get<int64_t>();
  o.generation.use_cache = cache;
  return o;
}

// Every ref/generate_{greedy,beam}.json holds three inputs (see the fixtures' README); beam files
// also hold one sequences_score per input. Fewer means a truncated or renamed reference.
constexpr size_t kRefCases = 3;

void check(const std::string& model, const std::string& task, const std::string& mode, size_t batch, bool cache) {
  Ref r = load(model, mode);
  ASSERT_GE(r.inputs.size(), kRefCases) << model << " " << mode;
  if (mode == "beam") ASSERT_EQ(r.scores.size(), r.inputs.size()) << model << " beam scores";
  auto p = kiln::pipelines::json_pipeline(task, fixture("models/" + model), options_for(r, batch, cache));
  std::vector<kiln::PipelineInput> in;
  for (auto& ids : r.inputs) in.push_back(kiln::PipelineInput::from_ids(ids));
  auto res = p->run(in);
  ASSERT_EQ(res.size(), r.inputs.size());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["sequences"][0].get<std::vector<int64_t>>(), r.outputs[i]) << model << " " << mode << " #" << i;
    if (!r.scores.empty())
      EXPECT_NEAR(res[i]["sequences_scores"][0].get<double>(), r.scores[i], 1e-4 * std::max(1.0, std::abs(r.scores[i])));
  }
}

}  // namespace

TEST(GenerateReference, T5GreedyAndBeam) {
  check("t5-tiny", "text2text-generation", "greedy", 1, true);
  check("t5-tiny", "text2text-generation", "beam", 1, true);
}
TEST(GenerateReference, BartForcedBosEosGreedyAndBeam) {
  check("bart-tiny", "text2text-generation", "greedy", 1, true);
  check("bart-tiny", "text2text-generation", "beam", 1, true);
}
TEST(GenerateReference, Gpt2GreedyAndBeam) {
  check("gpt2-tiny", "text-generation", "greedy", 1, true);
  check("gpt2-tiny", "text-generation", "beam", 1, true);
}
TEST(GenerateReference, PaddedBatchesEqualOneByOne) {
  // The three inputs differ in length: encoder inputs are padded, gpt2 prompts are grouped.
  check("t5-tiny", "text2text-generation", "greedy", 3, true);
  check("bart-tiny", "text2text-generation", "beam", 3, true);
  check("gpt2-tiny", "text-generation", "beam", 3, true);
}
TEST(GenerateReference, WithoutCacheTheSame) {
  check("t5-tiny", "text2text-generation", "greedy", 1, false);
  check("gpt2-tiny", "text-generation", "greedy", 2, false);
}
