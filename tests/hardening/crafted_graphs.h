// Hand-made ONNX files that are well-formed protobuf but wrong as graphs: cycles, reads of values
// nothing produces, duplicated names, subgraphs nested too deep. Built with the protobuf classes
// directly, since kiln's IR cannot even hold some of them (two initializers of one name).
// Every graph reads a float input x [1] and writes y, so one inputs file serves them all.
#pragma once
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"

namespace kiln::test::crafted {

inline void value(onnx::ValueInfoProto* v, const std::string& name) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_value(1);
}

inline onnx::NodeProto* node(onnx::GraphProto& g, const std::string& op, std::vector<std::string> ins,
                             std::vector<std::string> outs, const std::string& name) {
  auto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
  return n;
}

inline void float_initializer(onnx::GraphProto& g, const std::string& name, float v) {
  auto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(1);
  t->add_float_data(v);
}

// A model around graph `g` (named "crafted"), with x in and y out unless the graph set its own.
inline onnx::ModelProto model(onnx::GraphProto g, int opset = 17) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("crafted");
  m.add_opset_import()->set_version(opset);
  if (g.name().empty()) g.set_name("crafted");
  if (g.input_size() == 0) value(g.add_input(), "x");
  if (g.output_size() == 0) value(g.add_output(), "y");
  *m.mutable_graph() = std::move(g);
  return m;
}

// y = Relu(b), a = Relu(y), b = Relu(a): three nodes waiting on each other.
inline onnx::ModelProto cycle() {
  onnx::GraphProto g;
  node(g, "Add", {"x", "b"}, {"a"}, "first");
  node(g, "Relu", {"a"}, {"b"}, "second");
  node(g, "Relu", {"b"}, {"y"}, "third");
  return model(g);
}

// y = Add(x, ghost): 'ghost' is no input, initializer or node output.
inline onnx::ModelProto reads_missing_value() {
  onnx::GraphProto g;
  node(g, "Add", {"x", "ghost"}, {"y"}, "add");
  return model(g);
}

// The graph output names a value that nothing produces.
inline onnx::ModelProto output_never_produced() {
  onnx::GraphProto g;
  node(g, "Relu", {"x"}, {"r"}, "relu");
  value(g.add_output(), "nowhere");
  return model(g);
}

// Two graph inputs named x.
inline onnx::ModelProto duplicate_input() {
  onnx::GraphProto g;
  value(g.add_input(), "x");
  value(g.add_input(), "x");
  node(g, "Relu", {"x"}, {"y"}, "relu");
  return model(g);
}

// Two initializers named w with different values.
inline onnx::ModelProto duplicate_initializer() {
  onnx::GraphProto g;
  float_initializer(g, "w", 1.f);
  float_initializer(g, "w", 2.f);
  node(g, "Add", {"x", "w"}, {"y"}, "add");
  return model(g);
}

// Two nodes that both write t.
inline onnx::ModelProto duplicate_node_output() {
  onnx::GraphProto g;
  node(g, "Relu", {"x"}, {"t"}, "one");
  node(g, "Neg", {"x"}, {"t"}, "two");
  node(g, "Add", {"t", "t"}, {"y"}, "add");
  return model(g);
}

// A node that writes the name of an initializer (or, with to_input, of the graph input x).
inline onnx::ModelProto node_output_overwrites(bool to_input) {
  onnx::GraphProto g;
  float_initializer(g, "w", 1.f);
  node(g, "Neg", {"x"}, {to_input ? "x" : "w"}, "overwrite");
  node(g, "Add", {"x", "w"}, {"y"}, "add");
  return model(g);
}

// Two nodes sharing the name "twin" (allowed by ONNX only when empty; kiln names nodes in messages).
inline onnx::ModelProto duplicate_node_name() {
  onnx::GraphProto g;
  node(g, "Relu", {"x"}, {"t"}, "twin");
  node(g, "Neg", {"t"}, {"y"}, "twin");
  return model(g);
}

// y = If(true) whose then-branch reads a value nobody produces (inside the subgraph).
inline onnx::ModelProto subgraph_reads_missing_value() {
  onnx::GraphProto g;
  auto* c = g.add_initializer();
  c->set_name("cond");
  c->set_data_type(onnx::TensorProto::BOOL);
  c->add_int32_data(1);
  auto* n = node(g, "If", {"cond"}, {"y"}, "if");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = n->add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* b = a->mutable_g();
    b->set_name(branch);
    node(*b, "Add", {"x", std::string(branch) == "then_branch" ? "ghost" : "x"}, {"out"}, std::string(branch) + "_add");
    value(b->add_output(), "out");
  }
  return model(g);
}

// `depth` Ifs, each the then-branch of the one above; the innermost returns Identity(x).
inline onnx::ModelProto nested_ifs(int depth) {
  auto cond = [](onnx::GraphProto& g) {
    auto* c = g.add_initializer();
    c->set_name("cond");
    c->set_data_type(onnx::TensorProto::BOOL);
    c->add_int32_data(1);
  };
  onnx::GraphProto inner;
  inner.set_name("level" + std::to_string(depth));
  node(inner, "Identity", {"x"}, {"out"}, "innermost");
  value(inner.add_output(), "out");
  for (int level = depth - 1; level >= 0; --level) {
    onnx::GraphProto outer;
    outer.set_name(level == 0 ? "crafted" : "level" + std::to_string(level));
    cond(outer);
    std::string out = level == 0 ? "y" : "out";
    auto* n = node(outer, "If", {"cond"}, {out}, "if" + std::to_string(level));
    // then: the next level down; else: Identity(x) (one nested chain, not a tree of 2^depth).
    auto* then_a = n->add_attribute();
    then_a->set_name("then_branch");
    then_a->set_type(onnx::AttributeProto::GRAPH);
    *then_a->mutable_g() = std::move(inner);
    auto* else_a = n->add_attribute();
    else_a->set_name("else_branch");
    else_a->set_type(onnx::AttributeProto::GRAPH);
    else_a->mutable_g()->set_name("else" + std::to_string(level));
    node(*else_a->mutable_g(), "Identity", {"x"}, {"out"}, "else_identity" + std::to_string(level));
    value(else_a->mutable_g()->add_output(), "out");
    inner = onnx::GraphProto();
    if (level > 0) value(outer.add_output(), "out");
    inner = std::move(outer);
  }
  return model(inner);
}

}  // namespace kiln::test::crafted
