// SessionOptions::fixed_inputs and the If inlining they allow (passes/if_inlining.cc): an If on a
// fixed (or folded) condition runs its branch's nodes as the graph's own, and gives what the branch
// computes (checked against values worked out by hand); bad fixed inputs are refused by name.
#include <gtest/gtest.h>

#include <functional>

#include "passes/passes.h"
#include "kiln/inspect.h"
#include "runtime/session.h"

using namespace kiln;

namespace {

Node make_node(std::string op, std::vector<std::string> in, std::vector<std::string> out) {
  Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

// y = If(flag) { then: Identity(Add(x, one)) } else { Mul(x, two) }; x float32 [2], flag bool [1].
// The then-branch ends in an Identity, as merged decoders' branches often do; `unused` is read by
// the then-branch only.
Model if_model() {
  Model m;
  m.opsets = {{"", 17}};
  m.graph.name = "if";
  m.graph.inputs.push_back({"x", DType::F32, std::vector<Dim>{Dim{2, ""}}});
  m.graph.inputs.push_back({"unused", DType::F32, std::vector<Dim>{Dim{2, ""}}});
  m.graph.inputs.push_back({"flag", DType::Bool, std::vector<Dim>{Dim{1, ""}}});
  m.graph.outputs.push_back({"y", DType::F32, std::nullopt});
  auto then_g = std::make_shared<Graph>();
  then_g->name = "then";
  then_g->initializers["one"] = Tensor::from_vector<float>({1}, {1.f});
  then_g->nodes.push_back(make_node("Add", {"x", "one"}, {"then/sum"}));
  then_g->nodes.push_back(make_node("Add", {"then/sum", "unused"}, {"then/sum2"}));
  then_g->nodes.push_back(make_node("Identity", {"then/sum2"}, {"then/y"}));
  then_g->outputs.push_back({"then/y", DType::F32, std::nullopt});
  auto else_g = std::make_shared<Graph>();
  else_g->name = "else";
  else_g->initializers["two"] = Tensor::from_vector<float>({1}, {2.f});
  else_g->nodes.push_back(make_node("Mul", {"x", "two"}, {"else/y"}));
  else_g->outputs.push_back({"else/y", DType::F32, std::nullopt});
  Node n = make_node("If", {"flag"}, {"y"});
  Attribute t, e;
  t.kind = e.kind = Attribute::Kind::Graph;
  t.g = then_g, e.g = else_g;
  n.attributes["then_branch"] = t;
  n.attributes["else_branch"] = e;
  m.graph.nodes.push_back(n);
  return m;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const BadInput& e) {
    return e.what();
  }
  return "";
}

bool has_input(const Session& s, const std::string& name) {
  for (const auto& v : s.inputs())
    if (v.name == name) return true;
  return false;
}

}  // namespace

TEST(FixedInputs, TheTakenBranchRunsAsTheGraphsOwn) {
  const Tensor x = Tensor::from_vector<float>({2}, {1.5f, -4.f});
  const Tensor u = Tensor::from_vector<float>({2}, {10.f, 20.f});
  SessionOptions on;
  on.fixed_inputs["flag"] = Tensor::from_vector<bool>({1}, {true});
  Session then_s(if_model(), on);
  EXPECT_FALSE(has_input(then_s, "flag"));
  EXPECT_TRUE(has_input(then_s, "unused"));
  auto y = then_s.run({{"x", x}, {"unused", u}}).at("y");
  ASSERT_EQ(y.numel(), 2);
  EXPECT_EQ(y.data<float>()[0], 12.5f);  // 1.5 + 1 + 10
  EXPECT_EQ(y.data<float>()[1], 17.f);   // -4 + 1 + 20
  // No If is left to run, and the branch's closing Identity is gone: its Add writes y.
  auto plan = describe_plan(then_s);
  for (const auto& step : plan.steps) {
    EXPECT_NE(step.op, "If");
    EXPECT_NE(step.op, "Identity");
  }

  SessionOptions off;
  off.fixed_inputs["flag"] = Tensor::from_vector<bool>({1}, {false});
  Session else_s(if_model(), off);
  EXPECT_FALSE(has_input(else_s, "unused")) << "read only by the branch not taken, so dropped";
  auto z = else_s.run({{"x", x}}).at("y");
  EXPECT_EQ(z.data<float>()[0], 3.f);
  EXPECT_EQ(z.data<float>()[1], -8.f);

  // Not fixed: the If runs as a node, with the same results.
  Session plain(if_model());
  EXPECT_TRUE(has_input(plain, "flag"));
  auto w = plain.run({{"x", x}, {"unused", u}, {"flag", Tensor::from_vector<bool>({1}, {true})}}).at("y");
  EXPECT_EQ(w.data<float>()[0], 12.5f);
}

TEST(FixedInputs, BadOnesAreRefusedByName) {
  SessionOptions o;
  o.fixed_inputs["flags"] = Tensor::from_vector<bool>({1}, {true});
  std::string e = error_of([&] { Session s(if_model(), o); });
  EXPECT_NE(e.find("fixed input 'flags' is not an input"), std::string::npos) << e;
  EXPECT_NE(e.find("x, unused, flag"), std::string::npos) << e;

  o.fixed_inputs.clear();
  o.fixed_inputs["flag"] = Tensor::from_vector<int64_t>({1}, {1});
  e = error_of([&] { Session s(if_model(), o); });
  EXPECT_NE(e.find("fixed input 'flag' is int64, the graph declares bool"), std::string::npos) << e;

  o.fixed_inputs["flag"] = Tensor::from_vector<bool>({2}, {true, false});
  e = error_of([&] { Session s(if_model(), o); });
  EXPECT_NE(e.find("fixed input 'flag' has shape [2]"), std::string::npos) << e;
}

TEST(FixedInputs, InliningLeavesABranchThatRedefinesAnOuterNameAlone) {
  Model m = if_model();
  // The then-branch defines "x", a name of the graph (ONNX forbids it): not inlined.
  m.graph.nodes[0].attributes["then_branch"].g->nodes[0].outputs[0] = "x";
  m.graph.initializers["flag"] = Tensor::from_vector<bool>({1}, {true});
  EXPECT_EQ(inline_constant_ifs(m.graph), 0);
  m.graph.initializers["flag"] = Tensor::from_vector<bool>({1}, {false});
  EXPECT_EQ(inline_constant_ifs(m.graph), 1);
  EXPECT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Mul");
  EXPECT_EQ(m.graph.nodes[0].outputs[0], "y");
}
