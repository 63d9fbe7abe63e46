// text-classification through kiln::pipeline() with token ids, against the PyTorch logits of the
// fixtures (softmax computed here), one by one and padded in a batch.
#include <gtest/gtest.h>

#include <cmath>

#include "pipelines/pipeline.h"
#include "test_util.h"

using kiln::test::fixture;

TEST(TextClassification, ScoresAreTheSoftmaxOfTheReferenceLogits) {
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
  for (size_t batch : {1, 2}) {
    kiln::PipelineOptions o;
    o.threads = 1;
    o.batch_size = batch;
    o.top_k = 0;  // every label
    auto p = kiln::pipelines::json_pipeline("text-classification", fixture("models/distilbert-tiny"), o);
    auto res = p->run(inputs);
    for (size_t b = 0; b < inputs.size(); ++b) {
      double m = -1e30, sum = 0;
      for (int64_t l = 0; l < L; ++l) m = std::max(m, (double)logits[b * L + l]);
      std::vector<double> prob(L);
      for (int64_t l = 0; l < L; ++l) sum += prob[l] = std::exp(logits[b * L + l] - m);
      int64_t best = 0;
      for (int64_t l = 0; l < L; ++l) best = prob[l] > prob[best] ? l : best;
      EXPECT_EQ(res[b]["label"], id2label[std::to_string(best)]);
      EXPECT_NEAR(res[b]["score"].get<double>(), prob[best] / sum, 1e-4) << "batch " << batch << " row " << b;
      ASSERT_EQ(res[b]["scores"].size(), (size_t)L);
    }
  }
}
