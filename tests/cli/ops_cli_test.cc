// kiln ops: the kernel list. Checked against the graphs kiln must run: every op of every reference
// model in tests/fixtures/models (read from the files, not from the registry) is listed for its
// domain with an opset range that covers the model's import.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

nlohmann::json ops_json(const std::string& args = "") {
  std::string out;
  EXPECT_EQ(test::run_command(test::kiln_binary() + " ops --json " + args + " 2>/dev/null", &out), 0) << out;
  return nlohmann::json::parse(out);
}

bool listed(const nlohmann::json& ops, const std::string& domain, const std::string& op, int64_t opset) {
  for (const auto& k : ops)
    if (k["domain"] == domain && k["op"] == op && k["since"].get<int64_t>() <= opset &&
        opset <= k["until"].get<int64_t>())
      return true;
  return false;
}

TEST(OpsCli, ListsEveryOpOfTheReferenceModels) {
  nlohmann::json ops = ops_json();
  ASSERT_GT(ops.size(), 150u);
  int graphs = 0, checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(test::fixture("models"))) {
    if (e.path().extension() != ".onnx") continue;
    Model m = load_model(e.path().string());
    ++graphs;
    for (const auto& n : m.graph.nodes) {
      std::string domain = n.domain.empty() || n.domain == "ai.onnx" ? "ai.onnx" : n.domain;
      int64_t opset = m.opset(n.domain);
      EXPECT_TRUE(listed(ops, domain, n.op_type, opset))
          << e.path().filename() << ": " << domain << " " << n.op_type << " at opset " << opset;
      ++checked;
    }
  }
  EXPECT_GE(graphs, 20);
  EXPECT_GT(checked, 1000);
  // kiln's own session-time ops are listed too.
  EXPECT_TRUE(listed(ops, "kiln", "MatMulBias", 1));
  EXPECT_TRUE(listed(ops, "kiln", "MatMulIntegerToFloat", 1));
}

TEST(OpsCli, FiltersByDomainAndOp) {
  nlohmann::json ms = ops_json("--domain com.microsoft");
  ASSERT_FALSE(ms.empty());
  for (const auto& k : ms) EXPECT_EQ(k["domain"], "com.microsoft");
  nlohmann::json softmax = ops_json("--op Softmax");
  ASSERT_FALSE(softmax.empty());
  for (const auto& k : softmax) EXPECT_EQ(k["op"], "Softmax");
  std::string text;
  ASSERT_EQ(test::run_command(test::kiln_binary() + " ops --op LayerNormalization", &text), 0);
  EXPECT_NE(text.find("com.microsoft"), std::string::npos) << text;
  EXPECT_NE(text.find("ai.onnx"), std::string::npos) << text;
}

// Each kernel names the file that registers it: a file under src/ that spells the op's name (read
// from the source tree, not from the registry).
TEST(OpsCli, NamesTheSourceFileOfEveryKernel) {
  nlohmann::json ops = ops_json();
  ASSERT_GT(ops.size(), 150u);
  for (const auto& k : ops) {
    const std::string source = k["source"], op = k["op"];
    ASSERT_FALSE(source.empty()) << op;
    const std::string path = std::string(KILN_SOURCE_DIR) + "/src/" + source;
    ASSERT_TRUE(fs::is_regular_file(path)) << op << ": " << path;
    EXPECT_NE(read_file(path).find("\"" + op + "\""), std::string::npos) << op << " is not named in " << source;
  }
}

}  // namespace

namespace {

// docs/ops.md is generated from the registry (scripts/ops-index): it must list what the binary has.
TEST(OpsCli, DocsIndexMatchesTheBinary) {
  std::string live, doc = read_file(std::string(KILN_SOURCE_DIR) + "/docs/ops.md");
  ASSERT_EQ(test::run_command(test::kiln_binary() + " ops 2>/dev/null", &live), 0);
  ASSERT_FALSE(live.empty());
  EXPECT_NE(doc.find("```\n" + live + "```"), std::string::npos)
      << "docs/ops.md is out of date: run scripts/ops-index";
}

}  // namespace
