// The public pipeline API (include/kiln/pipeline.h): typed results of kiln::pipeline() against the
// PyTorch logits of the fixture (softmax computed here), run_json() agreeing with them, and the calls
// of other tasks refused.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "kiln/error.h"
#include "kiln/pipeline.h"
#include "test_util.h"

using kiln::test::fixture;

TEST(PublicPipeline, ClassifyGivesTheSoftmaxOfTheReferenceLogits) {
  auto in = kiln::read_tensors_json(fixture("models/distilbert-tiny/ref/case0_inputs.json"));
  auto out = kiln::read_tensors_json(fixture("models/distilbert-tiny/ref/case0_outputs.json"));
  const auto ids = in["input_ids"].to_i64_vector(), mask = in["attention_mask"].to_i64_vector();
  const auto logits = out["logits"].to_vector<float>();
  const int64_t S = in["input_ids"].dim(1), L = out["logits"].dim(1);
  auto id2label = nlohmann::json::parse(kiln::read_file(fixture("models/distilbert-tiny/config.json")))["id2label"];
  std::vector<kiln::PipelineInput> inputs;
  for (int64_t b = 0; b < in["input_ids"].dim(0); ++b) {
    std::vector<int64_t> row;
    for (int64_t t = 0; t < S; ++t)
      if (mask[b * S + t]) row.push_back(ids[b * S + t]);
    inputs.push_back(kiln::PipelineInput::from_ids(row));
  }
  kiln::PipelineOptions o;
  o.threads = 1;
  std::unique_ptr<kiln::Pipeline> p = kiln::pipeline("text-classification", fixture("models/distilbert-tiny"), o);
  EXPECT_EQ(p->task(), "text-classification");
  EXPECT_EQ(p->tokenizer(), nullptr);  // the fixture has no tokenizer files
  EXPECT_EQ(p->generation_config(), nullptr);
  auto res = p->classify(inputs);
  auto json = p->run_json(inputs);
  ASSERT_EQ(res.size(), inputs.size());
  ASSERT_EQ(json.size(), inputs.size());
  for (size_t b = 0; b < inputs.size(); ++b) {
    double m = -1e30, sum = 0;
    for (int64_t l = 0; l < L; ++l) m = std::max(m, (double)logits[b * L + l]);
    std::vector<double> prob(L);
    for (int64_t l = 0; l < L; ++l) sum += prob[l] = std::exp(logits[b * L + l] - m);
    ASSERT_EQ(res[b].size(), (size_t)L) << "every label, best first";
    for (int64_t l = 0; l < L; ++l) {
      int64_t rank = 0;  // labels with a higher probability come first
      for (int64_t k = 0; k < L; ++k) rank += prob[k] > prob[l];
      EXPECT_EQ(res[b][rank].label, id2label[std::to_string(l)].get<std::string>()) << "row " << b;
      EXPECT_NEAR(res[b][rank].score, prob[l] / sum, 1e-4) << "row " << b << " label " << l;
    }
    auto j = nlohmann::json::parse(json[b]);
    EXPECT_EQ(j["label"], res[b][0].label);
    EXPECT_NEAR(j["score"].get<double>(), res[b][0].score, 1e-6);
  }
  EXPECT_THROW(p->tag(inputs), kiln::Unsupported);
  EXPECT_THROW(p->generate(inputs), kiln::Unsupported);
}

TEST(PublicPipeline, UnknownTaskAndDeviceAreRefused) {
  EXPECT_THROW(kiln::pipeline("text-painting", fixture("models/distilbert-tiny")), kiln::BadInput);
  kiln::PipelineOptions o;
  o.device = "cuda";
  EXPECT_THROW(kiln::pipeline("text-classification", fixture("models/distilbert-tiny"), o), kiln::Unsupported);
}

// Settings for one call (generate(inputs, overrides)) against transformers' generate() on the t5
// fixture (ref/generate_greedy.json: max_new_tokens 12); the pipeline's own settings are untouched.
TEST(PublicPipeline, GenerateWithOverridesForOneCall) {
  auto j = nlohmann::json::parse(kiln::read_file(fixture("models/t5-tiny/ref/generate_greedy.json")));
  auto& t = j["tensors"];
  std::vector<kiln::PipelineInput> inputs;
  std::vector<std::vector<int64_t>> want;
  for (int i = 0; t.contains("input_ids." + std::to_string(i)); ++i) {
    inputs.push_back(kiln::PipelineInput::from_ids(t["input_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>()));
    want.push_back(t["output_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>());
  }
  ASSERT_EQ(inputs.size(), 3u);
  kiln::PipelineOptions o;
  o.threads = 1;
  o.generation.max_new_tokens = 3;
  auto p = kiln::pipeline("text2text-generation", fixture("models/t5-tiny"), o);
  kiln::GenerationOptions call;
  call.max_new_tokens = j["generate_kwargs"]["max_new_tokens"].get<int64_t>();
  auto got = p->generate(inputs, call);
  ASSERT_EQ(got.size(), inputs.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].sequences.at(0), want[i]) << "input " << i;
  ASSERT_NE(p->generation_config(), nullptr);
  EXPECT_EQ(p->generation_config()->max_new_tokens, 3) << "the pipeline's settings stay";
  auto plain = p->generate({inputs[0]});
  EXPECT_EQ(plain[0].sequences.at(0), std::vector<int64_t>(want[0].begin(), want[0].begin() + 4))
      << "decoder start + 3 new tokens, a prefix of greedy's";
  kiln::GenerationOptions bad;
  bad.num_beams = 0;
  EXPECT_THROW(p->generate(inputs, bad), kiln::BadInput);
  auto clf = kiln::pipeline("text-classification", fixture("models/distilbert-tiny"), {.threads = 1});
  EXPECT_THROW(clf->generate(inputs, call), kiln::Unsupported);
}
