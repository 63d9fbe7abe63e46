// If, Loop and Scan on small hand-built graphs whose results follow from the spec by hand.
// The bodies use only data-movement ops (Identity, Concat, Unsqueeze) so the tests stand alone.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }

Node node(std::string op, std::vector<std::string> in, std::vector<std::string> out,
          std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attributes = std::move(attrs);
  return n;
}

ValueInfo value(std::string name, DType t = DType::Undefined) {
  ValueInfo v;
  v.name = std::move(name);
  v.dtype = t;
  return v;
}

Attribute graph_attr(Graph g) {
  Attribute a;
  a.kind = Attribute::Kind::Graph;
  a.g = std::make_shared<Graph>(std::move(g));
  return a;
}

TEST(If, RunsTheChosenBranchReadingOuterValues) {
  Graph then_g;
  then_g.name = "then";
  then_g.nodes.push_back(node("Identity", {"in1"}, {"t"}));  // in1 is the If node's outer scope
  then_g.outputs.push_back(value("t"));
  Graph else_g;
  else_g.name = "else";
  else_g.initializers["k"] = i64({2}, {7, 8});
  else_g.nodes.push_back(node("Identity", {"k"}, {"e"}));
  else_g.outputs.push_back(value("e"));
  SingleNode s{"If", "", {{"then_branch", graph_attr(then_g)}, {"else_branch", graph_attr(else_g)}}, 13};
  Tensor x = i64({3}, {1, 2, 3});
  EXPECT_EQ(run_single_node(s, {Tensor::scalar<bool>(true), x})[0].to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(run_single_node(s, {Tensor::scalar<bool>(false), x})[0].to_vector<int64_t>(),
            (std::vector<int64_t>{7, 8}));
}

// Loop body: v <- concat(v, [i]); scan output [i]; cond passes through.
Graph loop_body() {
  Graph b;
  b.name = "body";
  b.inputs = {value("i", DType::I64), value("c", DType::Bool), value("v", DType::I64)};
  b.initializers["zero"] = i64({1}, {0});
  b.nodes.push_back(node("Unsqueeze", {"i", "zero"}, {"iu"}));
  Attribute axis;
  axis.kind = Attribute::Kind::Int;
  axis.i = 0;
  b.nodes.push_back(node("Concat", {"v", "iu"}, {"v2"}, {{"axis", axis}}));
  b.nodes.push_back(node("Identity", {"c"}, {"c2"}));
  ValueInfo scan = value("iu", DType::I64);
  scan.shape = std::vector<Dim>{Dim{1, ""}};
  b.outputs = {value("c2"), value("v2"), scan};
  return b;
}

TEST(Loop, CarriesValuesAndStacksScanOutputs) {
  SingleNode s{"Loop", "", {{"body", graph_attr(loop_body())}}, 13, 2};
  auto y = run_single_node(s, {Tensor::scalar<int64_t>(3), Tensor::scalar<bool>(true), i64({1}, {9})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 1, 2}));
  EXPECT_EQ(y[1].shape(), (Shape{3, 1}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(Loop, FalseConditionRunsNoIteration) {
  SingleNode s{"Loop", "", {{"body", graph_attr(loop_body())}}, 13, 2};
  auto y = run_single_node(s, {Tensor::scalar<int64_t>(3), Tensor::scalar<bool>(false), i64({1}, {9})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{9}));
  EXPECT_EQ(y[1].shape(), (Shape{0, 1}));
}

TEST(Scan, ReversedInputAndOutputAxis) {
  // state acc grows by each row; rows are read last-first; the scan output stacks rows on axis 1.
  Graph b;
  b.name = "body";
  b.inputs = {value("acc", DType::I64), value("row", DType::I64)};
  Attribute axis;
  axis.kind = Attribute::Kind::Int;
  axis.i = 0;
  b.nodes.push_back(node("Concat", {"acc", "row"}, {"acc2"}, {{"axis", axis}}));
  b.nodes.push_back(node("Identity", {"row"}, {"out"}));
  b.outputs = {value("acc2"), value("out")};
  SingleNode s{"Scan", "",
               {{"body", graph_attr(b)},
                {"num_scan_inputs", attr_int(1)},
                {"scan_input_directions", attr_ints({1})},
                {"scan_output_axes", attr_ints({1})}},
               11, 2};
  auto y = run_single_node(s, {i64({0}, {}), i64({3, 2}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 3, 4, 1, 2}));
  // iterations give rows [5,6], [3,4], [1,2]; stacked on axis 1: out[j][t] = row_t[j]
  EXPECT_EQ(y[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1, 6, 4, 2}));
}

}  // namespace
}  // namespace kiln::test
