// save_model writes the main graph's inline weights from the tensors straight into the file (no copy
// into the protobuf first): the file must parse, with protobuf's own parser, to the same ModelProto
// that model_to_bytes serializes in the ordinary way (initializers in another order).
#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include <filesystem>
#include <set>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto mp;
  EXPECT_TRUE(mp.ParseFromString(bytes));
  return mp;
}

void expect_same_as_model_to_bytes(const Model& m, const fs::path& file) {
  save_model(m, file.string());
  onnx::ModelProto written = parse(read_file(file.string())), plain = parse(model_to_bytes(m));
  google::protobuf::util::MessageDifferencer diff;
  diff.TreatAsSet(onnx::GraphProto::descriptor()->FindFieldByName("initializer"));
  std::string report;
  diff.ReportDifferencesToString(&report);
  EXPECT_TRUE(diff.Compare(plain, written)) << report;
  EXPECT_GT(written.graph().initializer_size(), 0);
}

TEST(OnnxSave, WritesTheModelProtoOfModelToBytes) {
  test::ScratchDir d("onnx-save");
  // A real graph: float32 weights, int64 constants.
  Model m = load_model(test::fixture("models/t5-tiny/decoder_model.onnx"));
  // Plus what stays inside the protobuf: a string tensor, an empty tensor, and an If whose branch
  // has its own initializer.
  Tensor s(DType::String, {2});
  s.data<std::string>()[0] = "a";
  s.data<std::string>()[1] = "bc";
  m.graph.initializers["strings"] = s;
  m.graph.initializers["empty"] = Tensor(DType::F32, {0, 3});
  // Graph outputs, so they are read: an initializer nothing reads is not written.
  m.graph.outputs.push_back({"strings", DType::String, std::vector<Dim>{Dim{2, ""}}});
  m.graph.outputs.push_back({"empty", DType::F32, std::vector<Dim>{Dim{0, ""}, Dim{3, ""}}});
  auto branch = std::make_shared<Graph>();
  branch->name = "branch";
  branch->initializers["branch_w"] = Tensor::from_vector<float>({3}, {1.f, 2.f, 3.f});
  branch->outputs.push_back({"branch_w", DType::F32, std::vector<Dim>{Dim{3, ""}}});
  Node n;
  n.op_type = "If";
  n.inputs = {"cond"};
  n.outputs = {"if_out"};
  Attribute a;
  a.kind = Attribute::Kind::Graph;
  a.g = branch;
  n.attributes["then_branch"] = a;
  n.attributes["else_branch"] = a;
  m.graph.nodes.push_back(n);
  m.graph.inputs.push_back({"cond", DType::Bool, std::vector<Dim>{}});
  expect_same_as_model_to_bytes(m, d.path / "m.onnx");
  // And what kiln loads back from it.
  Model back = load_model((d.path / "m.onnx").string());
  EXPECT_EQ(back.graph.initializers.size(), m.graph.initializers.size());
  EXPECT_EQ(back.graph.initializers.at("strings").data<std::string>()[1], "bc");
  EXPECT_EQ(back.graph.initializers.at("empty").shape(), (Shape{0, 3}));
}

}  // namespace

namespace {

// An initializer nothing reads is not written (quantization's replaced originals, folded
// constants); one read by a node, a subgraph, or listed as a graph output or input stays.
TEST(OnnxSave, UnusedInitializersAreNotWritten) {
  test::ScratchDir d("onnx-save-unused");
  Model m;
  m.opsets = {{"", 17}};
  m.graph.name = "g";
  m.graph.inputs.push_back({"x", DType::F32, std::vector<Dim>{Dim{3, ""}}});
  m.graph.inputs.push_back({"defaulted", DType::F32, std::vector<Dim>{Dim{3, ""}}});
  for (const char* name : {"read", "by_branch", "as_output", "defaulted", "orphan"})
    m.graph.initializers[name] = Tensor::from_vector<float>({3}, {1.f, 2.f, 3.f});
  Node add;
  add.op_type = "Add";
  add.inputs = {"x", "read"};
  add.outputs = {"sum"};
  m.graph.nodes.push_back(add);
  auto branch = std::make_shared<Graph>();
  branch->name = "branch";
  Node id;
  id.op_type = "Identity";
  id.inputs = {"by_branch"};
  id.outputs = {"b"};
  branch->nodes.push_back(id);
  branch->outputs.push_back({"b", DType::F32, std::vector<Dim>{Dim{3, ""}}});
  m.graph.initializers["cond"] = Tensor::scalar<bool>(true);
  Node n;
  n.op_type = "If";
  n.inputs = {"cond"};
  n.outputs = {"if_out"};
  Attribute a;
  a.kind = Attribute::Kind::Graph;
  a.g = branch;
  n.attributes["then_branch"] = a;
  n.attributes["else_branch"] = a;
  m.graph.nodes.push_back(n);
  for (const char* o : {"sum", "if_out", "as_output"}) m.graph.outputs.push_back({o, DType::F32, std::vector<Dim>{Dim{3, ""}}});
  for (bool external : {false, true}) {
    SaveOptions so;
    so.external_data = external;
    so.external_threshold = 0;
    fs::path p = d.path / (external ? "ext.onnx" : "m.onnx");
    save_model(m, p.string(), so);
    Model back = load_model(p.string());
    std::set<std::string> names;
    for (const auto& [k, _] : back.graph.initializers) names.insert(k);
    EXPECT_EQ(names, (std::set<std::string>{"as_output", "by_branch", "cond", "defaulted", "read"})) << external;
  }
  std::string bytes = model_to_bytes(m);
  EXPECT_FALSE(load_model_from_bytes(bytes.data(), bytes.size()).graph.initializers.count("orphan"));
}

}  // namespace
