// `kiln run` as the acceptance checks call it: --json lines, --batch-size equal to one-by-one,
// plain output streaming the new tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

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
  EXPECT_EQ(std::count(one.begin(), one.end(), '\n'), 3);
  // Ids equal exactly; scores may differ in the last float bits (padded encoder rows).
  std::istringstream a(one), b(batch);
  std::string la, lb;
  while (std::getline(a, la) && std::getline(b, lb))
    EXPECT_EQ(nlohmann::json::parse(la)["sequences"], nlohmann::json::parse(lb)["sequences"]);
}

TEST(RunCli, PlainOutputStreamsTheNewTokens) {
  // generate_greedy.json output_ids.0 without its decoder_start token 0
  std::string out = kiln_run(fixture("models/t5-tiny") +
                             " --task text2text-generation --max-new-tokens 12 --input-ids 113,57,12,968,10,37,629,19,627,5,1");
  EXPECT_EQ(out, "128 620 518 308 308 308 308 308 308 308 308 308\n");
}
