// Logits processors on hand-computed cases (transformers 4.25 semantics).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pipelines/generation/logits_processors.h"

using namespace kiln::pipelines::generation;
static const float kInf = std::numeric_limits<float>::infinity();

TEST(LogitsProcessors, RepetitionPenaltyDividesPositiveMultipliesNegativeOncePerToken) {
  std::vector<float> s = {1, 2, -1, -4};
  std::vector<int64_t> ids = {1, 1, 3};
  RepetitionPenalty(2.0f).apply(ids, s);
  EXPECT_EQ(s, (std::vector<float>{1, 1, -1, -8}));
}

TEST(LogitsProcessors, NoRepeatNGramBansTheTokenThatWouldRepeatABigram) {
  std::vector<float> s(8, 1.0f);
  std::vector<int64_t> ids = {5, 6, 5};
  NoRepeatNGram(2).apply(ids, s);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(s[i], i == 6 ? -kInf : 1.0f) << i;
  std::vector<float> t(8, 1.0f);
  std::vector<int64_t> short_ids = {5};
  NoRepeatNGram(3).apply(short_ids, t);  // too short for any 3-gram
  EXPECT_EQ(t, std::vector<float>(8, 1.0f));
}

TEST(LogitsProcessors, NoBadWordsBansLastTokenAfterPrefixAndIgnoresBareEos) {
  NoBadWords p({{2}, {4, 5}, {7}}, {2});
  std::vector<float> s(8, 0.0f);
  std::vector<int64_t> ids = {1, 4};
  p.apply(ids, s);
  EXPECT_EQ(s[5], -kInf);
  EXPECT_EQ(s[7], -kInf);  // one-token sequences are always banned
  EXPECT_EQ(s[2], 0.0f);   // [eos] alone is not banned
  std::vector<float> t(8, 0.0f);
  std::vector<int64_t> other = {4, 1};
  p.apply(other, t);
  EXPECT_EQ(t[5], 0.0f);
}

TEST(LogitsProcessors, MinLengthBansEosUntilLongEnough) {
  MinLength p(3, {1});
  std::vector<float> s = {0, 5, 0};
  std::vector<int64_t> two = {0, 2}, three = {0, 2, 2};
  p.apply(three, s);
  EXPECT_EQ(s[1], 5.0f);
  p.apply(two, s);
  EXPECT_EQ(s[1], -kInf);
}

TEST(LogitsProcessors, ForcedTokenOnlyAtItsLength) {
  ForcedToken p(0, 1);
  std::vector<float> s = {-3, 2, 1};
  std::vector<int64_t> two = {2, 0};
  p.apply(two, s);
  EXPECT_EQ(s, (std::vector<float>{-3, 2, 1}));
  std::vector<int64_t> one = {2};
  p.apply(one, s);
  EXPECT_EQ(s, (std::vector<float>{0, -kInf, -kInf}));
}

TEST(LogitsProcessors, TemperatureTopKTopP) {
  std::vector<float> s = {2, 4};
  Temperature(2.0f).apply({}, s);
  EXPECT_EQ(s, (std::vector<float>{1, 2}));

  std::vector<float> k = {1, 3, 2, 0};
  TopK(2).apply({}, k);
  EXPECT_EQ(k, (std::vector<float>{-kInf, 3, 2, -kInf}));
  std::vector<float> ties = {1, 2, 2, 0};
  TopK(2).apply({}, ties);  // both tokens equal to the 2nd best stay
  EXPECT_EQ(ties, (std::vector<float>{-kInf, 2, 2, -kInf}));

  // probabilities 0.1, 0.6, 0.3: ascending cumulative 0.1, 0.4, 1.0
  std::vector<float> base = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  std::vector<float> p5 = base;
  TopP(0.5f).apply({}, p5);  // drops tokens with cumulative <= 0.5: 0.1 and 0.3
  EXPECT_EQ(p5[0], -kInf);
  EXPECT_EQ(p5[2], -kInf);
  EXPECT_EQ(p5[1], base[1]);
  std::vector<float> p7 = base;
  TopP(0.7f).apply({}, p7);  // drops cumulative <= 0.3: only 0.1
  EXPECT_EQ(p7[0], -kInf);
  EXPECT_EQ(p7[1], base[1]);
  EXPECT_EQ(p7[2], base[2]);
  std::vector<float> keep2 = base;
  TopP(0.5f, 2).apply({}, keep2);  // with beams at least two tokens stay
  EXPECT_EQ(keep2[2], base[2]);
}

TEST(LogitsProcessors, LogSoftmaxAndSoftmax) {
  std::vector<float> s = {0, std::log(3.0f)};
  log_softmax_inplace(s);
  EXPECT_NEAR(s[0], std::log(0.25), 1e-6);
  EXPECT_NEAR(s[1], std::log(0.75), 1e-6);
  std::vector<float> p = {0, std::log(3.0f), -kInf};
  softmax_inplace(p);
  EXPECT_NEAR(p[0], 0.25, 1e-6);
  EXPECT_NEAR(p[1], 0.75, 1e-6);
  EXPECT_EQ(p[2], 0.0f);
}

TEST(LogitsProcessors, ListFollowsTheConfig) {
  GenerationConfig c;  // bart-like: forced bos at length 1, forced eos at max_length - 1
  c.eos_token_ids = {2};
  c.forced_bos_token_id = 0;
  c.forced_eos_token_id = 2;
  c.max_new_tokens = 12;
  LogitsProcessorList l = make_logits_processors(c, 1);
  EXPECT_EQ(l.size(), 2u);
  std::vector<float> s = {1, 5, 3};
  std::vector<int64_t> ids(12, 7);  // length 12 = max_length (13) - 1: eos forced
  l.apply(ids, s);
  EXPECT_EQ(s, (std::vector<float>{-kInf, -kInf, 0}));
  EXPECT_TRUE(make_logits_warpers(GenerationConfig{}).size() == 1);  // top_k 50 by default
}
