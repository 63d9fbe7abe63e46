// Session limits: max_tensor_bytes, int64 overflow of shapes, run_timeout_ms. Each crafted graph asks
// for far more than memory or time allows and must fail at once with one line naming the node.
#include <gtest/gtest.h>

#include <chrono>

#include "limit_graphs.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

const NamedTensors kFeeds = {{"x", Tensor::from_vector<float>({1}, {1.f})}};

struct Failure {
  std::string message;
  ErrorKind kind = ErrorKind::Internal;
  bool thrown = false;
};

Failure run_failure(Model m, SessionOptions so = {}) {
  Failure f;
  try {
    Session s(std::move(m), so);
    s.run(kFeeds);
  } catch (const Error& e) {
    f.message = e.what();
    f.kind = e.kind();
    f.thrown = true;
  }
  return f;
}

const std::string kLimit16G = "17179869184 bytes (16.0 GiB)";
const std::string kRaise = "; raise max_tensor_bytes (--max-tensor-bytes) if that is meant";

TEST(Limits, DefaultIs16GiB) { EXPECT_EQ(SessionOptions{}.max_tensor_bytes, size_t(16) << 30); }

TEST(Limits, ConstantOfShapeOverTheLimit) {
  Model m = test::shape_op_graph("ConstantOfShape", {1000000, 1000000});
  std::string name = test::node_name(m, "ConstantOfShape");
  Failure f = run_failure(std::move(m));
  ASSERT_TRUE(f.thrown);
  EXPECT_EQ(f.kind, ErrorKind::BadInput);
  EXPECT_EQ(f.message, "ConstantOfShape '" + name +
                           "' (ai.onnx): a tensor of float32 [1000000, 1000000] (1000000000000 elements) needs "
                           "4000000000000 bytes (3.6 TiB), over the limit of " + kLimit16G + kRaise);
}

TEST(Limits, ExpandOverTheLimit) {
  Model m = test::shape_op_graph("Expand", {1000000, 1000000});
  std::string name = test::node_name(m, "Expand");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadInput);
  EXPECT_EQ(f.message, "Expand '" + name +
                           "' (ai.onnx): a tensor of float32 [1000000, 1000000] (1000000000000 elements) needs "
                           "4000000000000 bytes (3.6 TiB), over the limit of " + kLimit16G + kRaise);
}

TEST(Limits, ExpandToOneHugeDimensionFailsBeforeBuildingIndexTables) {
  Model m = test::shape_op_graph("Expand", {1000000000000});
  std::string name = test::node_name(m, "Expand");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.message, "Expand '" + name +
                           "' (ai.onnx): a tensor of float32 [1000000000000] (1000000000000 elements) needs "
                           "4000000000000 bytes (3.6 TiB), over the limit of " + kLimit16G + kRaise);
}

TEST(Limits, TileOverTheLimit) {
  Model m = test::shape_op_graph("Tile", {1000000000000});
  std::string name = test::node_name(m, "Tile");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadInput);
  EXPECT_EQ(f.message, "Tile '" + name +
                           "' (ai.onnx): a tensor of float32 [1000000000000] (1000000000000 elements) needs "
                           "4000000000000 bytes (3.6 TiB), over the limit of " + kLimit16G + kRaise);
}

TEST(Limits, RangeOverTheLimit) {
  Model m = test::range_graph(1000000000000);
  std::string name = test::node_name(m, "Range");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadInput);
  EXPECT_EQ(f.message, "Range '" + name +
                           "' (ai.onnx): a tensor of int64 [1000000000000] (1000000000000 elements) needs "
                           "8000000000000 bytes (7.3 TiB), over the limit of " + kLimit16G + kRaise);
}

TEST(Limits, ALowerLimitIsEnforcedExactly) {
  SessionOptions so;
  so.max_tensor_bytes = 1000;
  Session ok(test::shape_op_graph("Expand", {250}), so);  // 250 floats: 1000 bytes, at the limit
  EXPECT_EQ(ok.run(kFeeds).at("y").numel(), 250);
  Model m = test::shape_op_graph("Expand", {251});
  std::string name = test::node_name(m, "Expand");
  Failure f = run_failure(std::move(m), so);
  EXPECT_EQ(f.message, "Expand '" + name +
                           "' (ai.onnx): a tensor of float32 [251] (251 elements) needs 1004 bytes, over "
                           "the limit of 1000 bytes" + kRaise);
}

TEST(Limits, NoLimitWhenZero) {
  SessionOptions so;
  so.max_tensor_bytes = 0;
  Session s(test::shape_op_graph("Expand", {3, 1000}), so);
  EXPECT_EQ(s.run(kFeeds).at("y").numel(), 3000);
}

TEST(Limits, ElementCountOverflowIsABadModel) {
  Model m = test::shape_op_graph("ConstantOfShape", {4294967296, 4294967296});
  std::string name = test::node_name(m, "ConstantOfShape");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadModel);
  EXPECT_EQ(f.message, "ConstantOfShape '" + name +
                           "' (ai.onnx): shape [4294967296, 4294967296] has more elements than a 64-bit count holds");
}

TEST(Limits, ByteCountOverflowIsABadModel) {
  Model m = test::shape_op_graph("ConstantOfShape", {2147483648, 2147483648});  // 2^62 floats
  std::string name = test::node_name(m, "ConstantOfShape");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadModel);
  EXPECT_EQ(f.message, "ConstantOfShape '" + name +
                           "' (ai.onnx): a tensor of float32 [2147483648, 2147483648] needs more than "
                           "9223372036854775807 bytes, which does not fit in 64 bits");
}

TEST(Limits, ReshapeDimsOverflowIsABadModel) {
  Model m = test::shape_op_graph("Reshape", {4294967296, 4294967296});
  std::string name = test::node_name(m, "Reshape");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadModel);
  EXPECT_EQ(f.message, "Reshape '" + name +
                           "' (ai.onnx): shape [4294967296, 4294967296] has more elements than a 64-bit count holds");
}

TEST(Limits, TileToInt64MaxElementsIsABadModel) {
  Model m = test::shape_op_graph("Tile", {INT64_MAX});  // x has one element: INT64_MAX floats
  Model m2 = test::shape_op_graph("Tile", {2});
  std::string name = test::node_name(m, "Tile");
  Failure f = run_failure(std::move(m));
  EXPECT_EQ(f.kind, ErrorKind::BadModel);
  EXPECT_EQ(f.message, "Tile '" + name + "' (ai.onnx): a tensor of float32 [9223372036854775807] needs more than "
                                         "9223372036854775807 bytes, which does not fit in 64 bits");
  Session ok(std::move(m2));
  EXPECT_EQ(ok.run(kFeeds).at("y").numel(), 2);
}

TEST(Limits, LoopStopsAtTheDeadline) {
  Model m = test::loop_graph(1000000000000000);
  std::string name = test::node_name(m, "Loop");
  SessionOptions so;
  so.run_timeout_ms = 200;
  Session s(std::move(m), so);
  auto start = std::chrono::steady_clock::now();
  std::string message;
  ErrorKind kind = ErrorKind::Internal;
  try {
    s.run(kFeeds);
  } catch (const Error& e) {
    message = e.what();
    kind = e.kind();
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(kind, ErrorKind::BadInput);
  EXPECT_EQ(message, "Loop '" + name +
                         "' (ai.onnx): the run took longer than its limit of 200 ms and was stopped; raise "
                         "run_timeout_ms (--timeout-ms) if that is meant");
  EXPECT_GE(ms, 200.0);
  EXPECT_LT(ms, 1000.0);
}

TEST(Limits, ALoopWithinTheDeadlineFinishes) {
  SessionOptions so;
  so.run_timeout_ms = 60000;
  Session s(test::loop_graph(1000), so);
  EXPECT_EQ(s.run(kFeeds).at("y").data<float>()[0], 1.f);
}

}  // namespace
