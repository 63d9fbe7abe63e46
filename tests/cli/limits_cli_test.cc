// kiln exec/bench --max-tensor-bytes / --timeout-ms: the crafted graphs of limit_graphs.h answered
// with one error line and the error's exit code, at once.
#include <gtest/gtest.h>

#include <chrono>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "limit_graphs.h"
#include "test_util.h"

using namespace kiln;

namespace {

struct Cli {
  int code = 0;
  std::string out;
  double ms = 0;
};

// Saves `m` and x = [1] as inputs in `dir`, runs `kiln <command> MODEL --inputs IN.json <flags>`;
// returns its exit code, its stderr and how long the process took.
Cli run_cli(const std::string& command, const Model& m, const std::string& flags, const test::ScratchDir& dir) {
  std::string model = (dir.path / "m.onnx").string(), inputs = (dir.path / "in.json").string();
  save_model(m, model);
  write_file_atomic(inputs, tensors_to_json_text({{"x", Tensor::from_vector<float>({1}, {1.f})}}));
  Cli c;
  auto start = std::chrono::steady_clock::now();
  // stderr only: the group's stdout is dropped, its stderr goes where run_command reads.
  c.code = test::run_command("{ " + test::kiln_binary() + " " + command + " " + model + " --inputs " + inputs + " " +
                                 flags + " 2>&1 >/dev/null; }",
                             &c.out);
  c.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return c;
}

TEST(LimitsCli, ConstantOfShapeOverTheDefaultLimit) {
  test::ScratchDir dir;
  Model m = test::shape_op_graph("ConstantOfShape", {1000000, 1000000});
  std::string name = test::node_name(m, "ConstantOfShape");
  Cli c = run_cli("exec", m, "", dir);
  EXPECT_EQ(c.code, 3);
  EXPECT_EQ(c.out, "kiln: error: ConstantOfShape '" + name +
                       "' (ai.onnx): a tensor of float32 [1000000, 1000000] (1000000000000 elements) needs "
                       "4000000000000 bytes (3.6 TiB), over the limit of 17179869184 bytes (16.0 GiB); raise "
                       "max_tensor_bytes (--max-tensor-bytes) if that is meant\n");
}

TEST(LimitsCli, ExpandOverAGivenLimit) {
  test::ScratchDir dir;
  Model m = test::shape_op_graph("Expand", {1000, 1000});
  std::string name = test::node_name(m, "Expand");
  Cli c = run_cli("exec", m, "--max-tensor-bytes 1000000", dir);
  EXPECT_EQ(c.code, 3);
  EXPECT_EQ(c.out, "kiln: error: Expand '" + name +
                       "' (ai.onnx): a tensor of float32 [1000, 1000] (1000000 elements) needs 4000000 bytes (3.8 "
                       "MiB), over the limit of 1000000 bytes (976.6 KiB); raise max_tensor_bytes (--max-tensor-bytes) "
                       "if that is meant\n");
  // The same graph within the limit runs.
  EXPECT_EQ(run_cli("exec", m, "--max-tensor-bytes 4000000", dir).code, 0);
}

TEST(LimitsCli, ReshapeOverflowIsABadModel) {
  test::ScratchDir dir;
  Model m = test::shape_op_graph("Reshape", {4294967296, 4294967296});
  std::string name = test::node_name(m, "Reshape");
  Cli c = run_cli("exec", m, "", dir);
  EXPECT_EQ(c.code, 2);
  EXPECT_EQ(c.out, "kiln: error: Reshape '" + name +
                       "' (ai.onnx): shape [4294967296, 4294967296] has more elements than a 64-bit count holds\n");
}

TEST(LimitsCli, LoopStopsAtTheTimeout) {
  test::ScratchDir dir;
  Model m = test::loop_graph(1000000000000000);
  std::string name = test::node_name(m, "Loop");
  const std::string want = "kiln: error: Loop '" + name +
                           "' (ai.onnx): the run took longer than its limit of 200 ms and was stopped; raise "
                           "run_timeout_ms (--timeout-ms) if that is meant\n";
  Cli c = run_cli("exec", m, "--timeout-ms 200", dir);
  EXPECT_EQ(c.code, 3);
  EXPECT_EQ(c.out, want);
  // The whole process, model loading included: the loop alone would run for ever, so a bound far above
  // the limit still shows the stop, and leaves room for a sanitized build on a loaded machine.
  EXPECT_LT(c.ms, 5000.0);
  Cli b = run_cli("bench", m, "--timeout-ms 200 --warmup 0 --repeat 1", dir);
  EXPECT_EQ(b.code, 3);
  EXPECT_EQ(b.out, want);
}

}  // namespace

namespace {

TEST(LimitsCli, RunTakesTheLimitsToEveryGraph) {
  std::string dir = test::fixture("models/distilbert-tiny");
  std::string out;
  std::string cmd = "{ " + test::kiln_binary() + " run " + dir + " --task text-classification --input-ids 1,2,3";
  EXPECT_EQ(test::run_command(cmd + " --max-tensor-bytes 100 2>&1 >/dev/null; }", &out), 3);
  EXPECT_EQ(out, "kiln: error: Gather '/m/distilbert/embeddings/word_embeddings/Gather' (ai.onnx): a tensor of float32 "
                 "[1, 3, 64] (192 elements) needs 768 bytes, over the limit of 100 bytes; raise max_tensor_bytes "
                 "(--max-tensor-bytes) if that is meant\n");
  // Generous limits change nothing.
  EXPECT_EQ(test::run_command(cmd + " --max-tensor-bytes 1000000 --timeout-ms 60000 2>&1 >/dev/null; }", &out), 0) << out;
  EXPECT_EQ(out, "");
}

}  // namespace
