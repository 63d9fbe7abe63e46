// load_model's zero-copy path for embedded weights (graph/onnx_wire.h): the same model as the
// protobuf parse of the same bytes, initializers pointing into the mapped file where aligned, and
// the same one-line errors for truncated or inconsistent files.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "graph/onnx_wire.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

void expect_same_model(const Model& a, const Model& b) {
  ASSERT_EQ(a.graph.nodes.size(), b.graph.nodes.size());
  ASSERT_EQ(a.graph.initializers.size(), b.graph.initializers.size());
  for (const auto& [name, t] : a.graph.initializers) {
    ASSERT_TRUE(b.graph.initializers.count(name)) << name;
    const Tensor& u = b.graph.initializers.at(name);
    ASSERT_EQ(u.shape(), t.shape()) << name;
    ASSERT_EQ(u.dtype(), t.dtype()) << name;
    if (t.nbytes()) EXPECT_EQ(0, std::memcmp(u.raw(), t.raw(), t.nbytes())) << name;
  }
  for (size_t i = 0; i < a.graph.nodes.size(); ++i) {
    EXPECT_EQ(a.graph.nodes[i].op_type, b.graph.nodes[i].op_type);
    EXPECT_EQ(a.graph.nodes[i].inputs, b.graph.nodes[i].inputs);
    EXPECT_EQ(a.graph.nodes[i].attributes.size(), b.graph.nodes[i].attributes.size());
  }
}

// The message load_model gives for bytes protobuf cannot parse.
std::string not_onnx_message(const std::string& path) {
  return path +
         " is not a valid ONNX model (protobuf parse failed: truncated, not ONNX, or nested deeper than protobuf "
         "allows); check the file, or download or export it again";
}

TEST(OnnxMappedLoad, SameModelAsTheProtobufParse) {
  for (const char* f : {"models/distilbert-tiny/model.onnx", "models/distilbert-tiny/model_quantized.onnx",
                        "models/t5-tiny/decoder_model.onnx"}) {
    std::string path = test::fixture(f);
    std::string bytes = read_file(path);
    Model mapped = load_model(path);
    Model parsed = load_model_from_bytes(bytes.data(), bytes.size(), fs::path(path).parent_path().string());
    SCOPED_TRACE(f);
    expect_same_model(parsed, mapped);
  }
}

TEST(OnnxMappedLoad, AlignedInitializersPointIntoTheFileAndOutliveIt) {
  test::ScratchDir d("mapped-load");
  std::string path = (d.path / "m.onnx").string();
  fs::copy_file(test::fixture("models/distilbert-tiny/model.onnx"), path);
  Model m = load_model(path);
  std::string bytes = read_file(path);
  size_t viewed = 0;
  for (const auto& [name, t] : m.graph.initializers) {
    if (!t.buffer() || !t.buffer()->is_view()) continue;
    ++viewed;
    // A view holds the very bytes of the file, at an address aligned for its element type.
    const char* p = static_cast<const char*>(t.raw());
    EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % std::min<size_t>(dtype_size(t.dtype()), 8)) << name;
    EXPECT_NE(std::string::npos, bytes.find(std::string(p, std::min<size_t>(t.nbytes(), 64)))) << name;
  }
  EXPECT_GT(viewed, 0u);
  // The mapping lives as long as the tensors do, even with the file gone.
  Model copy = load_model_from_bytes(bytes.data(), bytes.size());
  fs::remove(path);
  expect_same_model(copy, m);
}

TEST(OnnxMappedLoad, TruncatedFilesGiveTheUsualError) {
  test::ScratchDir d("mapped-trunc");
  std::string bytes = read_file(test::fixture("models/distilbert-tiny/model.onnx"));
  std::string path = (d.path / "cut.onnx").string();
  // Cuts in the header, in the middle of an initializer's raw_data, and at the last byte.
  for (size_t cut : {size_t(1), size_t(100), bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    write_file_atomic(path, bytes.substr(0, cut));
    try {
      load_model(path);
      ADD_FAILURE() << "a file cut at " << cut << " loaded";
    } catch (const BadModel& e) {
      EXPECT_EQ(std::string(e.what()), not_onnx_message(path)) << "cut at " << cut;
    }
  }
}

TEST(OnnxMappedLoad, RawDataOfTheWrongSizeIsRefused) {
  test::ScratchDir d("mapped-size");
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(read_file(test::fixture("models/distilbert-tiny/model.onnx"))));
  onnx::TensorProto* victim = nullptr;
  for (auto& t : *mp.mutable_graph()->mutable_initializer())
    if (t.has_raw_data() && t.raw_data().size() > 16) victim = &t;
  ASSERT_NE(victim, nullptr);
  victim->mutable_raw_data()->resize(victim->raw_data().size() - 4);
  std::string path = (d.path / "short.onnx").string();
  write_file_atomic(path, mp.SerializeAsString());
  try {
    load_model(path);
    ADD_FAILURE() << "a model with short raw_data loaded";
  } catch (const BadModel& e) {
    EXPECT_NE(std::string(e.what()).find("bytes of data for shape"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(victim->name()), std::string::npos) << e.what();
  }
}

TEST(OnnxMappedLoad, PrescanFindsEveryInitializerAndStopsOnOddWireData) {
  std::string bytes = read_file(test::fixture("models/distilbert-tiny/model.onnx"));
  onnx::ModelProto full;
  ASSERT_TRUE(full.ParseFromString(bytes));
  std::string slim;
  std::vector<RawDataSpan> spans;
  ASSERT_TRUE(slim_model_bytes(bytes.data(), bytes.size(), &slim, &spans));
  ASSERT_EQ((int)spans.size(), full.graph().initializer_size());
  onnx::ModelProto lean;
  ASSERT_TRUE(lean.ParseFromString(slim));
  for (int i = 0; i < full.graph().initializer_size(); ++i) {
    const auto& t = full.graph().initializer(i);
    EXPECT_EQ(spans[i].present, t.has_raw_data()) << t.name();
    if (!t.has_raw_data()) continue;
    EXPECT_EQ(bytes.substr(spans[i].offset, spans[i].size), t.raw_data()) << t.name();
    EXPECT_TRUE(lean.graph().initializer(i).raw_data().empty()) << t.name();
    EXPECT_EQ(lean.graph().initializer(i).name(), t.name());
  }
  EXPECT_EQ(lean.graph().node_size(), full.graph().node_size());
  // Truncated or with a second graph field (which protobuf would merge): left to the plain parse.
  EXPECT_FALSE(slim_model_bytes(bytes.data(), bytes.size() - 1, &slim, &spans));
  onnx::ModelProto extra;
  *extra.mutable_graph()->add_node() = full.graph().node(0);
  std::string twice = bytes + extra.SerializeAsString();
  EXPECT_FALSE(slim_model_bytes(twice.data(), twice.size(), &slim, &spans));
}

}  // namespace
