// `kiln run` as the acceptance checks call it: --json lines, --batch-size equal to one-by-one,
// plain output streaming the new tokens.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

using kiln::test::fixture;

namespace {
std::string kiln_run(const std::string& args) {
  std::string out;
  EXPECT_EQ(kiln::test::run_command(kiln::test::kiln_binary() + " run " + args + " 2>/dev/null", &out), 0) << args;
  return out;
}
const std::string kInputs = " --input-ids 0,414,232,6,42,16,10,296,4,2 --input-ids 0,133,182,21,372,4,2 --input-ids 0,100,200,300,400,500,2";
}  // namespace

TEST(RunCli, BatchSizeGivesTheOneByOneJson) {
  const std::string base = fixture("models/bart-tiny") + " --task text2text-generation --json --max-new-tokens 12 --num-beams 4 "
                                                         "--num-return-sequences 2 --early-stopping" + kInputs;
  std::string one = kiln_run(base), batch = kiln_run(base + " --batch-size 3");
  // One --json line per --input-ids, in both runs: an empty or cut-short batched run must fail.
  auto split = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  const std::vector<std::string> a = split(one), b = split(batch);
  const size_t n_inputs = 3;
  ASSERT_EQ(a.size(), n_inputs) << one;
  ASSERT_EQ(b.size(), n_inputs) << batch;
  // Ids equal exactly; scores may differ in the last float bits (padded encoder rows).
  for (size_t i = 0; i < n_inputs; ++i) {
    auto ja = nlohmann::json::parse(a[i]), jb = nlohmann::json::parse(b[i]);
    ASSERT_TRUE(ja.contains("sequences")) << a[i];
    EXPECT_EQ(ja["sequences"].size(), 2u) << a[i];  // --num-return-sequences 2
    EXPECT_EQ(ja["sequences"], jb["sequences"]) << "input " << i;
  }
}

TEST(RunCli, PlainOutputStreamsTheNewTokens) {
  // generate_greedy.json output_ids.0 without its decoder_start token 0
  std::string out = kiln_run(fixture("models/t5-tiny") +
                             " --task text2text-generation --max-new-tokens 12 --input-ids 113,57,12,968,10,37,629,19,627,5,1");
  EXPECT_EQ(out, "128 620 518 308 308 308 308 308 308 308 308 308\n");
}
