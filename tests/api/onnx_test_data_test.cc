// What the ONNX node-test runner needs from the public API: kiln/tensor_proto.h reads the tests'
// .pb tensors, TensorInfo::is_tensor tells sequence values apart, SessionOptions::check_input_shapes
// false takes feeds of any shape. Files are written here with libonnx, values checked against what
// was written.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "kiln/error.h"
#include "kiln/inspect.h"
#include "kiln/session.h"
#include "kiln/tensor_proto.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

template <typename Proto>
std::string write_proto(const fs::path& path, const Proto& p) {
  std::ofstream out(path, std::ios::binary);
  EXPECT_TRUE(p.SerializeToOstream(&out)) << path;
  return path.string();
}

// A one-node graph (ir 8, opset 17): input x of `in_type`, node `op` x -> y, output y of `out_type`.
onnx::ModelProto one_node(const std::string& op, const onnx::TypeProto& in_type, const onnx::TypeProto& out_type) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* x = g->add_input();
  x->set_name("x");
  *x->mutable_type() = in_type;
  auto* y = g->add_output();
  y->set_name("y");
  *y->mutable_type() = out_type;
  auto* n = g->add_node();
  n->set_op_type(op);
  n->add_input("x");
  n->add_output("y");
  return m;
}

onnx::TypeProto float_tensor(std::vector<int64_t> dims) {
  onnx::TypeProto t;
  auto* tt = t.mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) shape->add_dim()->set_dim_param("n");
    else shape->add_dim()->set_dim_value(d);
  }
  return t;
}

}  // namespace

TEST(TensorProto, ReadsRawDataAndTypedFieldsWithTheName) {
  kiln::test::ScratchDir d("kiln-tensor-proto");
  // float32 [2, 3] in raw_data, named.
  const std::vector<float> values = {1.5f, -2.0f, 0.25f, 3.0e10f, -0.0f, 7.0f};
  onnx::TensorProto raw;
  raw.set_name("input_ids");
  raw.set_data_type(onnx::TensorProto::FLOAT);
  raw.add_dims(2);
  raw.add_dims(3);
  raw.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  std::string name = "unset";
  kiln::Tensor t = kiln::read_tensor_proto(write_proto(d.path / "raw.pb", raw), &name);
  EXPECT_EQ(name, "input_ids");
  EXPECT_EQ(t.dtype(), kiln::DType::F32);
  EXPECT_EQ(t.shape(), (kiln::Shape{2, 3}));
  EXPECT_EQ(t.to_vector<float>(), values);

  // int64 [3] in int64_data, no name.
  onnx::TensorProto typed;
  typed.set_data_type(onnx::TensorProto::INT64);
  typed.add_dims(3);
  for (int64_t v : {int64_t(-1), int64_t(0), int64_t(1) << 40}) typed.add_int64_data(v);
  kiln::Tensor i = kiln::read_tensor_proto(write_proto(d.path / "typed.pb", typed), &name);
  EXPECT_EQ(name, "");
  EXPECT_EQ(i.dtype(), kiln::DType::I64);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, int64_t(1) << 40}));

  // A scalar string.
  onnx::TensorProto str;
  str.set_data_type(onnx::TensorProto::STRING);
  str.add_string_data("hello");
  kiln::Tensor s = kiln::read_tensor_proto(write_proto(d.path / "string.pb", str));
  EXPECT_EQ(s.shape(), kiln::Shape{});
  EXPECT_EQ(s.to_vector<std::string>(), std::vector<std::string>{"hello"});
}

TEST(TensorProto, RefusesWhatIsNotOne) {
  kiln::test::ScratchDir d("kiln-tensor-proto");
  EXPECT_THROW(kiln::read_tensor_proto((d.path / "missing.pb").string()), kiln::IoError);
  {
    std::ofstream out(d.path / "junk.pb", std::ios::binary);
    out << "\xff\xff\xff\xff not a protobuf";
  }
  EXPECT_THROW(kiln::read_tensor_proto((d.path / "junk.pb").string()), kiln::BadInput);
  onnx::TensorProto short_data;  // 4 values for shape [5]
  short_data.set_data_type(onnx::TensorProto::FLOAT);
  short_data.add_dims(5);
  for (int k = 0; k < 4; ++k) short_data.add_float_data(1.0f);
  EXPECT_THROW(kiln::read_tensor_proto(write_proto(d.path / "short.pb", short_data)), kiln::BadModel);
}

TEST(TensorInfo, SequenceValuesAreNotTensors) {
  kiln::test::ScratchDir d("kiln-tensor-info");
  onnx::TypeProto seq;
  *seq.mutable_sequence_type()->mutable_elem_type() = float_tensor({-1});
  onnx::TypeProto count;
  count.mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  count.mutable_tensor_type()->mutable_shape();  // a scalar
  const std::string path = write_proto(d.path / "seq.onnx", one_node("SequenceLength", seq, count));
  kiln::ModelSummary s = kiln::inspect_model(path);
  ASSERT_EQ(s.inputs.size(), 1u);
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_FALSE(s.inputs[0].is_tensor);
  EXPECT_FALSE(s.inputs[0].has_rank);
  EXPECT_EQ(s.inputs[0].dtype, kiln::DType::Undefined);
  EXPECT_TRUE(s.outputs[0].is_tensor);
  EXPECT_EQ(s.outputs[0].dtype, kiln::DType::I64);
}

TEST(SessionOptions, UncheckedInputShapesTakeFeedsOfAnyShape) {
  kiln::test::ScratchDir d("kiln-input-shapes");
  const std::string path =
      write_proto(d.path / "identity.onnx", one_node("Identity", float_tensor({-1, 3}), float_tensor({-1, 3})));
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7, 8};
  const kiln::Tensor x = kiln::Tensor::from_vector<float>({2, 4}, values);  // the model declares [n, 3]

  kiln::Session checked(path);
  EXPECT_EQ(checked.input_info().at(0).shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_THROW(checked.run({{"x", x}}), kiln::BadInput);

  kiln::SessionOptions o;
  o.check_input_shapes = false;
  kiln::Session unchecked(path, o);
  EXPECT_FALSE(unchecked.input_info().at(0).has_rank);
  kiln::NamedTensors out = unchecked.run({{"x", x}});
  EXPECT_EQ(out.at("y").shape(), (kiln::Shape{2, 4}));
  EXPECT_EQ(out.at("y").to_vector<float>(), values);
  // The element type is still checked.
  EXPECT_THROW(unchecked.run({{"x", kiln::Tensor::from_vector<int64_t>({2}, {1, 2})}}), kiln::BadInput);
}
