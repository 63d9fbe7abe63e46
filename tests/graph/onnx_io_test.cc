// ONNX load/save: round trip, external data (and its refusal outside the model folder), bad bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "graph/onnx_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("kiln-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A two-node graph built by hand: y = Relu(x + w).
Model small_model(int64_t n) {
  Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  Graph& g = m.graph;
  g.name = "small";
  g.inputs.push_back({"x", DType::F32, std::vector<Dim>{Dim{n, ""}}});
  g.outputs.push_back({"y", DType::F32, std::vector<Dim>{Dim{n, ""}}});
  std::vector<float> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = (float)i - n / 2.0f;
  g.initializers["w"] = Tensor::from_vector<float>({n}, w);
  Node add;
  add.op_type = "Add";
  add.inputs = {"x", "w"};
  add.outputs = {"s"};
  Node relu;
  relu.op_type = "Relu";
  relu.inputs = {"s"};
  relu.outputs = {"y"};
  g.nodes = {add, relu};
  return m;
}

TEST(OnnxIo, LoadsReferenceModel) {
  Model m = load_model(test::fixture("models/bert-tiny/model.onnx"));
  EXPECT_EQ(m.opset(""), 13);
  ASSERT_EQ(m.graph.inputs.size(), 3u);
  EXPECT_EQ(m.graph.inputs[0].name, "input_ids");
  EXPECT_EQ(m.graph.inputs[0].dtype, DType::I64);
  ASSERT_EQ(m.graph.outputs.size(), 1u);
  EXPECT_EQ(m.graph.outputs[0].name, "logits");
  // README: hidden 64, vocab 1024, 128 positions (the exporter prefixed names with "m.").
  ASSERT_TRUE(m.graph.initializers.count("m.bert.embeddings.word_embeddings.weight"));
  EXPECT_EQ(m.graph.initializers.at("m.bert.embeddings.word_embeddings.weight").shape(), (Shape{1024, 64}));
  EXPECT_EQ(m.graph.initializers.at("m.bert.embeddings.position_embeddings.weight").shape(), (Shape{128, 64}));
  EXPECT_EQ(m.graph.initializers.at("m.classifier.weight").shape(), (Shape{3, 64}));
}

TEST(OnnxIo, SaveLoadRoundTripKeepsEverything) {
  Model m = load_model(test::fixture("models/t5-tiny/decoder_model.onnx"));
  fs::path d = temp_dir("roundtrip");
  save_model(m, (d / "copy.onnx").string());
  Model back = load_model((d / "copy.onnx").string());
  EXPECT_EQ(back.graph.nodes.size(), m.graph.nodes.size());
  EXPECT_EQ(back.graph.initializers.size(), m.graph.initializers.size());
  for (const auto& [name, t] : m.graph.initializers) {
    const Tensor& u = back.graph.initializers.at(name);
    ASSERT_EQ(u.shape(), t.shape()) << name;
    ASSERT_EQ(u.dtype(), t.dtype()) << name;
    EXPECT_EQ(0, std::memcmp(u.raw(), t.raw(), t.nbytes())) << name;
  }
  EXPECT_EQ(back.opset(""), m.opset(""));
  fs::remove_all(d);
}

TEST(OnnxIo, ExternalDataIsMappedAndRoundTrips) {
  Model m = small_model(4096);
  fs::path d = temp_dir("external");
  SaveOptions o;
  o.external_data = true;
  save_model(m, (d / "m.onnx").string(), o);
  ASSERT_TRUE(fs::exists(d / "m.onnx.data"));
  EXPECT_LT(fs::file_size(d / "m.onnx"), 4096u);  // the weights are not inside
  Model back = load_model((d / "m.onnx").string());
  const Tensor& w = back.graph.initializers.at("w");
  EXPECT_TRUE(w.buffer()->is_view());  // memory-mapped, not copied
  EXPECT_EQ(w.data<float>()[0], -2048.0f);
  EXPECT_EQ(w.data<float>()[4095], 2047.0f);
  fs::remove_all(d);
}

// Replaces every occurrence of `from` by `to` (same length) in a file's bytes.
void patch_file(const fs::path& p, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::string bytes = read_file(p.string());
  size_t n = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1), ++n)
    bytes.replace(at, from.size(), to);
  ASSERT_GT(n, 0u);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(OnnxIo, RefusesExternalDataOutsideModelFolder) {
  Model m = small_model(2048);
  fs::path d = temp_dir("escape");
  fs::create_directories(d / "inner");
  SaveOptions o;
  o.external_data = true;
  o.external_file = "abcdefghi";
  save_model(m, (d / "inner" / "m.onnx").string(), o);
  fs::rename(d / "inner" / "abcdefghi", d / "secret");
  patch_file(d / "inner" / "m.onnx", "abcdefghi", "../secret");
  try {
    load_model((d / "inner" / "m.onnx").string());
    FAIL() << "a location outside the folder was accepted";
  } catch (const BadModel& e) {
    EXPECT_NE(std::string(e.what()).find("outside the model's folder"), std::string::npos) << e.what();
  }
  // An absolute path is refused too.
  patch_file(d / "inner" / "m.onnx", "../secret", "/tmp/abcd");
  EXPECT_THROW(load_model((d / "inner" / "m.onnx").string()), BadModel);
  fs::remove_all(d);
}

TEST(OnnxIo, TruncatedAndRandomBytesAreBadModel) {
  std::string bytes = read_file(test::fixture("models/bert-tiny/model.onnx"));
  for (size_t cut : {size_t(1), size_t(100), bytes.size() / 2, bytes.size() - 1})
    EXPECT_THROW(load_model_from_bytes(bytes.data(), cut), BadModel) << "cut at " << cut;
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::string junk(1000 + trial * 37, '\0');
    for (char& c : junk) c = (char)(rng() & 0xff);
    try {
      load_model_from_bytes(junk.data(), junk.size());
    } catch (const Error&) {
      // any kiln error is fine; a crash or another exception type is not
    }
  }
  EXPECT_THROW(load_model_from_bytes("", 0), BadModel);
}

TEST(OnnxIo, MissingFileIsIoError) {
  EXPECT_THROW(load_model("/nonexistent/model.onnx"), IoError);
}

}  // namespace
