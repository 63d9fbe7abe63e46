// BeamHypotheses / BeamSearchScorer on hand-computed cases (transformers 4.25 semantics).
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipelines/generation/beam_scorer.h"

using namespace kiln::pipelines::generation;

TEST(BeamHypotheses, KeepsTheBestNByLengthNormalisedScore) {
  BeamHypotheses h(2, 1.0f, false);
  h.add({0, 5}, -1.0);      // -0.5
  h.add({0, 6, 7}, -3.0);   // -1.0
  h.add({0, 8}, -1.6);      // -0.8 replaces -1.0
  ASSERT_EQ(h.size(), 2u);
  EXPECT_DOUBLE_EQ(h.beams()[0].score, -0.5);
  EXPECT_DOUBLE_EQ(h.beams()[1].score, -0.8);
  h.add({0, 9}, -2.0);  // -1.0 is worse than the worst kept: ignored
  EXPECT_EQ(h.size(), 2u);
  // Done when no open beam can beat the worst kept score: best -2.0 at length 2 -> -1.0 <= -0.8.
  EXPECT_TRUE(h.is_done(-2.0, 2));
  EXPECT_FALSE(h.is_done(-1.0, 2));  // -0.5 would beat -0.8
  BeamHypotheses e(2, 1.0f, true);
  e.add({0}, -5.0);
  EXPECT_FALSE(e.is_done(-100.0, 2));  // one hypothesis of two
  e.add({0}, -6.0);
  EXPECT_TRUE(e.is_done(0.0, 2));  // early stopping: done as soon as there are num_beams
}

TEST(BeamHypotheses, LengthPenaltyDividesByLengthToThePower) {
  BeamHypotheses h(1, 2.0f, false);
  h.add({1, 2, 3}, -9.0);  // -9 / 3^2
  EXPECT_DOUBLE_EQ(h.beams()[0].score, -1.0);
}

TEST(BeamSearchScorer, EosInTopBeamsBecomesAHypothesisOthersContinue) {
  BeamSearchScorer s(1, 2, 1.0f, false, 1);
  std::vector<std::vector<int64_t>> seqs = {{0}, {0}};
  // candidates best first: eos from beam 0, token 3 from beam 0, eos from beam 1 (rank 2: ignored), token 4
  BeamStep st = s.process(seqs, {-0.1f, -0.2f, -0.3f, -0.4f}, {9, 3, 9, 4}, {0, 0, 1, 1}, {9}, 0);
  EXPECT_EQ(st.tokens, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(st.indices, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(st.scores, (std::vector<float>{-0.2f, -0.4f}));
  EXPECT_FALSE(s.is_done());
  // finalize: [0] scored -0.1/1, [0,3] -0.2/2 = -0.1 (tie: the later one wins), [0,4] -0.2 not kept.
  BeamOutput out = s.finalize({{0, 3}, {0, 4}}, st.scores, 5, 0, 9);
  ASSERT_EQ(out.sequences.size(), 1u);
  EXPECT_EQ(out.sequences[0], (std::vector<int64_t>{0, 3, 9}));  // shorter than max_length: eos appended
  EXPECT_NEAR(out.scores[0], -0.1, 1e-7);
}

TEST(BeamSearchScorer, SeveralReturnSequencesArePaddedAfterEos) {
  BeamSearchScorer s(1, 2, 1.0f, false, 2);
  std::vector<std::vector<int64_t>> seqs = {{0}, {0}};
  BeamStep st = s.process(seqs, {-0.1f, -0.2f, -0.3f, -0.4f}, {9, 3, 9, 4}, {0, 0, 1, 1}, {9}, 0);
  BeamOutput out = s.finalize({{0, 3}, {0, 4}}, st.scores, 5, 0, 9);
  ASSERT_EQ(out.sequences.size(), 2u);
  EXPECT_EQ(out.sequences[0], (std::vector<int64_t>{0, 3, 9}));
  EXPECT_EQ(out.sequences[1], (std::vector<int64_t>{0, 9, 0}));
}

TEST(BeamSearchScorer, FullLengthHypothesesGetNoEos) {
  BeamSearchScorer s(1, 2, 1.0f, false, 1);
  BeamOutput out = s.finalize({{0, 5, 6}, {0, 5, 7}}, {-1.0f, -2.0f}, 3, 0, 9);
  EXPECT_EQ(out.sequences[0], (std::vector<int64_t>{0, 5, 6}));
}

TEST(BeamSearchScorer, RejectsMoreReturnSequencesThanBeams) {
  EXPECT_THROW(BeamSearchScorer(1, 2, 1.0f, false, 3), kiln::BadInput);
}
