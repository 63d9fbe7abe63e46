// Greedy, sampling and beam search over a toy model whose next-token logits depend only on the
// last token, so every expected sequence can be followed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "pipelines/generation/search.h"

using namespace kiln::gen;

namespace {

// Vocabulary of 5; token 4 is eos. table[last] = logits of the next token.
class ToyModel : public StepModel {
 public:
  explicit ToyModel(int64_t rows, std::vector<std::vector<float>> table) : rows_(rows), table_(std::move(table)) {
    last_.assign(rows, -1);
  }
  std::span<float> step(const std::vector<std::vector<int64_t>>& tokens) override {
    EXPECT_EQ((int64_t)tokens.size(), rows_);
    std::vector<float>& out = out_;
    out.clear();
    for (int64_t r = 0; r < rows_; ++r) {
      last_[r] = tokens[r].back();
      out.insert(out.end(), table_[last_[r]].begin(), table_[last_[r]].end());
    }
    ++calls;
    return out;
  }
  std::vector<float> out_;
  int64_t vocab_size() const override { return 5; }
  int64_t rows() const override { return rows_; }
  void select(const std::vector<int64_t>& rows) override {
    std::vector<int64_t> l;
    for (int64_t r : rows) l.push_back(last_[r]);
    last_ = l;
    rows_ = (int64_t)rows.size();
  }
  int calls = 0;

 private:
  int64_t rows_;
  std::vector<std::vector<float>> table_;
  std::vector<int64_t> last_;
};

const std::vector<std::vector<float>> kTable = {
    {0, 0, 3, 1, 0},  // after 0: 2 best, then 3
    {0, 5, 0, 0, 0},  // after 1: 1 forever
    {0, 0, 0, 1, 2},  // after 2: eos best, then 3
    {0, 0, 0, 0, 9},  // after 3: eos
    {9, 0, 0, 0, 0},  // after eos (only reached by finished rows)
};

GenerationConfig base() {
  GenerationConfig c;
  c.eos_token_ids = {4};
  c.pad_token_id = 0;
  c.max_new_tokens = 4;
  return c;
}

}  // namespace

TEST(Search, GreedyStopsAtEosAndBatchEqualsSingleRuns) {
  GenerationConfig c = base();
  ToyModel one(1, kTable);
  auto a = generate(one, {{0}}, c);
  EXPECT_EQ(a.sequences[0][0], (std::vector<int64_t>{0, 2, 4}));
  ToyModel two(2, kTable);
  auto b = generate(two, {{0}, {1}}, c);
  EXPECT_EQ(b.sequences[0][0], (std::vector<int64_t>{0, 2, 4}));           // no pad after its eos
  EXPECT_EQ(b.sequences[1][0], (std::vector<int64_t>{1, 1, 1, 1, 1}));     // max_new_tokens 4
  EXPECT_EQ(two.calls, 4);
}

TEST(Search, GreedyHonoursMinNewTokensAndStreams) {
  GenerationConfig c = base();
  c.min_new_tokens = 2;  // eos banned for the first two new tokens: 0 -> 2 -> 3 -> eos
  ToyModel m(1, kTable);
  std::vector<int64_t> streamed;
  auto r = generate(m, {{0}}, c, [&](size_t in, size_t seq, int64_t t) { streamed.push_back(t); });
  EXPECT_EQ(r.sequences[0][0], (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(streamed, (std::vector<int64_t>{2, 3, 4}));
}

TEST(Search, BeamSearchKeepsTheBestFinishedHypothesis) {
  // Followed by hand: 0-2 ends first (score p2 / 2), 0-2-3 ends next; early stopping then picks
  // the best of the two. From 0: path 0-2-eos has log p = ls(0)[2] + ls(2)[4]; 0-3-eos = ls(0)[3] + ls(3)[4].
  GenerationConfig c = base();
  c.num_beams = 2;
  c.early_stopping = true;
  auto ls = [](std::vector<float> v, int i) {
    double s = 0;
    for (float x : v) s += std::exp(x);
    return v[i] - std::log(s);
  };
  const double p2 = ls(kTable[0], 2) + ls(kTable[2], 4), p3 = ls(kTable[0], 3) + ls(kTable[3], 4);
  ToyModel m(1, kTable);
  auto r = generate(m, {{0}}, c);
  ASSERT_EQ(r.sequences[0].size(), 1u);
  // Both finish at length 2 (hyp without eos); the higher score wins.
  std::vector<int64_t> want = p3 > p2 ? std::vector<int64_t>{0, 3, 4} : std::vector<int64_t>{0, 2, 4};
  EXPECT_EQ(r.sequences[0][0], want);
  EXPECT_NEAR(r.scores[0][0], std::max(p2, p3) / 2.0, 1e-5);
}

TEST(Search, SamplingIsRepeatableWithASeedAndStaysInTopK) {
  GenerationConfig c = base();
  c.do_sample = true;
  c.top_k = 2;
  c.seed = 42;
  c.num_return_sequences = 3;
  ToyModel m1(1, kTable), m2(1, kTable);
  auto a = generate(m1, {{0}}, c), b = generate(m2, {{0}}, c);
  EXPECT_EQ(a.sequences, b.sequences);
  ASSERT_EQ(a.sequences[0].size(), 3u);
  for (const auto& s : a.sequences[0]) EXPECT_TRUE(s[1] == 2 || s[1] == 3) << s[1];  // top 2 after token 0
  c.top_k = 1;  // one candidate: sampling is greedy
  c.num_return_sequences = 1;
  ToyModel m3(1, kTable);
  EXPECT_EQ(generate(m3, {{0}}, c).sequences[0][0], (std::vector<int64_t>{0, 2, 4}));
}

TEST(Search, GreedyRejectsSeveralReturnSequences) {
  GenerationConfig c = base();
  c.num_return_sequences = 2;
  ToyModel m(1, kTable);
  EXPECT_THROW(generate(m, {{0}}, c), kiln::Error);
}

TEST(Search, RawBannedTokensLeaveTheSoftmaxBeforeBeamScoring) {
  // Marian-style: token 2 is removed from the raw logits, so after 0 the best is 3 and beam scores
  // are normalised without token 2 at every step: log(e^1 / (3 + e^1)) + log(e^9 / (3 + e^9)).
  GenerationConfig c = base();
  c.banned_raw_token_ids = {2};
  ToyModel g(1, kTable);
  EXPECT_EQ(generate(g, {{0}}, c).sequences[0][0], (std::vector<int64_t>{0, 3, 4}));
  c.num_beams = 2;
  c.early_stopping = true;
  ToyModel b(1, kTable);
  auto r = generate(b, {{0}}, c);
  EXPECT_EQ(r.sequences[0][0], (std::vector<int64_t>{0, 3, 4}));
  const double s = (1.0 - std::log(3.0 + std::exp(1.0))) + (9.0 - std::log(3.0 + std::exp(9.0)));
  EXPECT_NEAR(r.scores[0][0], s / 2.0, 1e-5);
}
