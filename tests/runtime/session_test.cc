// Session: feed validation, missing-kernel errors, constant folding, subgraph-free basics.
#include <gtest/gtest.h>

#include "passes/passes.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

Node make_node(std::string op, std::vector<std::string> in, std::vector<std::string> out, std::string domain = "") {
  Node n;
  n.op_type = std::move(op);
  n.domain = std::move(domain);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

// y = Identity(x), x: float32 [2, n]
Model identity_model() {
  Model m;
  m.opsets = {{"", 17}};
  m.graph.name = "id";
  m.graph.inputs.push_back({"x", DType::F32, std::vector<Dim>{Dim{2, ""}, Dim{std::nullopt, "n"}}});
  m.graph.outputs.push_back({"y", DType::F32, std::nullopt});
  m.graph.nodes.push_back(make_node("Identity", {"x"}, {"y"}));
  return m;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Session, RunsAndReturnsNamedOutputs) {
  Session s(identity_model());
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = s.run({{"x", x}});
  ASSERT_EQ(out.count("y"), 1u);
  EXPECT_EQ(out["y"].shape(), (Shape{2, 3}));
  EXPECT_EQ(out["y"].data<float>()[5], 6.0f);
}

TEST(Session, FeedErrorsNameTheInput) {
  Session s(identity_model());
  std::string e = error_of([&] { s.run({}); });
  EXPECT_NE(e.find("'x'"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;

  e = error_of([&] { s.run({{"x", Tensor::from_vector<int64_t>({2, 1}, {1, 2})}}); });
  EXPECT_NE(e.find("'x' must be float32 but is int64"), std::string::npos) << e;

  e = error_of([&] { s.run({{"x", Tensor::from_vector<float>({2}, {1, 2})}}); });
  EXPECT_NE(e.find("rank 2"), std::string::npos) << e;

  e = error_of([&] { s.run({{"x", Tensor::from_vector<float>({3, 1}, {1, 2, 3})}}); });
  EXPECT_NE(e.find("dimension 0 differs"), std::string::npos) << e;

  e = error_of([&] { s.run({{"x", Tensor::from_vector<float>({2, 1}, {1, 2})}, {"z", Tensor::scalar<float>(1)}}); });
  EXPECT_NE(e.find("unknown input 'z'"), std::string::npos) << e;
}

TEST(Session, MissingKernelsAreListedTogether) {
  Model m = identity_model();
  m.graph.nodes.push_back(make_node("FancyOp", {"x"}, {"a"}, "com.example"));
  m.graph.nodes.push_back(make_node("OtherOp", {"a"}, {"b"}, "com.example"));
  m.graph.outputs.push_back({"b", DType::F32, std::nullopt});
  m.opsets.push_back({"com.example", 3});
  std::string e = error_of([&] { Session s(std::move(m), SessionOptions{.optimization_level = 0}); });
  EXPECT_NE(e.find("com.example:FancyOp (opset 3)"), std::string::npos) << e;
  EXPECT_NE(e.find("com.example:OtherOp (opset 3)"), std::string::npos) << e;
  EXPECT_NE(e.find("2 ops"), std::string::npos) << e;
}

TEST(Passes, ConstantNodesFoldIntoInitializersAndDeadNodesGo) {
  Model m = identity_model();
  Node c = make_node("Constant", {}, {"k"});
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = Tensor::from_vector<float>({1}, {5});
  c.attributes["value"] = a;
  m.graph.nodes.insert(m.graph.nodes.begin(), c);
  m.graph.nodes.push_back(make_node("Identity", {"k"}, {"unused"}));
  int folded = fold_constants(m.graph, [](const Node& n, const std::vector<const Tensor*>&) -> std::optional<std::vector<Tensor>> {
    if (n.op_type == "Constant") return std::vector<Tensor>{n.attr("value")->t};
    if (n.op_type == "Identity") return std::nullopt;
    return std::nullopt;
  });
  EXPECT_EQ(folded, 1);
  ASSERT_TRUE(m.graph.initializers.count("k"));
  int removed = remove_dead_nodes(m.graph);
  EXPECT_EQ(removed, 1);  // the Identity feeding nothing
  EXPECT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_FALSE(m.graph.initializers.count("k"));  // nobody reads it any more
}

TEST(Graph, TopologicalSortOrdersAndDetectsCycles) {
  Graph g;
  g.name = "g";
  g.inputs.push_back({"x", DType::F32, std::nullopt});
  g.nodes.push_back(make_node("Identity", {"b"}, {"c"}));
  g.nodes.push_back(make_node("Identity", {"x"}, {"b"}));
  g.topological_sort();
  EXPECT_EQ(g.nodes[0].outputs[0], "b");
  g.nodes.push_back(make_node("Identity", {"d"}, {"e"}));
  g.nodes.push_back(make_node("Identity", {"e"}, {"d"}));
  EXPECT_THROW(g.topological_sort(), BadModel);
}

}  // namespace
