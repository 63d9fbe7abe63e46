// Small graphs that ask for more than any machine has, for the limit tests of Session (runtime) and
// of the CLI: a ConstantOfShape, Expand, Tile or Range to ~1e12 elements, a Reshape whose dims
// overflow int64, a Loop that would run 1e15 times. Each reads one float input x [1].
#pragma once
#include <memory>
#include <string>

#include "export/graph_builder.h"

namespace kiln::test {

// The name GraphBuilder gave the (only) node of `op_type`, for the expected messages.
inline std::string node_name(const Model& m, const std::string& op_type) {
  for (const auto& n : m.graph.nodes)
    if (n.op_type == op_type) return n.name;
  return "";
}

// y = Op(x, constant int64 list): Expand, Tile, Reshape; y = ConstantOfShape(list) when op is that.
inline Model shape_op_graph(const std::string& op, std::vector<int64_t> dims) {
  exporting::GraphBuilder b(op + "_huge");
  std::string x = b.input("x", DType::F32, {Dim{1, ""}});
  std::string c = b.const_i64(std::move(dims));
  std::string y = op == "ConstantOfShape" ? b.op(op, {c}) : b.op(op, {x, c});
  b.output(y, "y", DType::F32, {});
  Model m = b.finish();
  m.graph.outputs[0].shape = std::nullopt;
  return m;
}

// y = Range(0, limit, 1) in int64, plus x so the graph has an input.
inline Model range_graph(int64_t limit) {
  exporting::GraphBuilder b("range_huge");
  b.input("x", DType::F32, {Dim{1, ""}});
  std::string y = b.op("Range", {b.const_i64({0}, true), b.const_i64({limit}, true), b.const_i64({1}, true)});
  b.output(y, "y", DType::I64, {});
  Model m = b.finish();
  m.graph.outputs[0].shape = std::nullopt;
  return m;
}

// y = Loop(trips, true, x) with a body that passes its value on unchanged.
inline Model loop_graph(int64_t trips) {
  exporting::GraphBuilder body("loop_body");
  body.input("i", DType::I64, {});
  body.input("cond_in", DType::Bool, {});
  body.input("v_in", DType::F32, {Dim{1, ""}});
  body.output("cond_in", "cond_out", DType::Bool, {});
  body.output("v_in", "v_out", DType::F32, {Dim{1, ""}});
  Model bm = body.finish();

  exporting::GraphBuilder b("loop_huge");
  std::string x = b.input("x", DType::F32, {Dim{1, ""}});
  std::string cond = b.initializer("cond", Tensor::scalar<bool>(true));
  Attribute g;
  g.kind = Attribute::Kind::Graph;
  g.g = std::make_shared<Graph>(std::move(bm.graph));
  std::string y = b.op("Loop", {b.const_i64({trips}, true), cond, x}, {{"body", g}});
  b.output(y, "y", DType::F32, {Dim{1, ""}});
  return b.finish();
}

}  // namespace kiln::test
