// ONNX load/save: round trip, external data (and its refusal outside the model folder or beyond its
// file, or with malformed offsets), bad bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "graph/onnx_io.h"
#include "onnx/onnx_pb.h"
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

// Sets external_data[key] = value on initializer `name` of a saved model (added when absent), the
// way a corrupt or hostile file would carry it.
void set_external_entry(const fs::path& model, const std::string& name, const std::string& key,
                        const std::string& value) {
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(read_file(model.string())));
  bool found = false;
  for (auto& t : *mp.mutable_graph()->mutable_initializer()) {
    if (t.name() != name) continue;
    ASSERT_EQ(t.data_location(), onnx::TensorProto::EXTERNAL) << name;
    found = true;
    bool set = false;
    for (auto& kv : *t.mutable_external_data())
      if (kv.key() == key) kv.set_value(value), set = true;
    if (!set) {
      auto* kv = t.add_external_data();
      kv->set_key(key);
      kv->set_value(value);
    }
  }
  ASSERT_TRUE(found) << name;
  std::ofstream(model, std::ios::binary | std::ios::trunc) << mp.SerializeAsString();
}

// A model whose 2048-float initializer 'w' lives at byte 4096 of d/w.bin, after 4096 bytes of 0xAB
// written here: the offset matters, so a misread offset shows in the loaded values.
fs::path model_with_weights_at_4096(const fs::path& d) {
  Model m = small_model(2048);
  SaveOptions o;
  o.external_data = true;
  o.external_file = "w.bin";
  save_model(m, (d / "m.onnx").string(), o);
  std::string weights = read_file((d / "w.bin").string());
  EXPECT_EQ(weights.size(), 2048u * 4);  // one tensor, written from offset 0
  std::ofstream(d / "w.bin", std::ios::binary | std::ios::trunc) << std::string(4096, '\xAB') << weights;
  set_external_entry(d / "m.onnx", "w", "offset", "4096");
  set_external_entry(d / "m.onnx", "w", "length", "8192");
  return d / "m.onnx";
}

// small_model(2048)'s weights: w[i] = i - 1024.
void expect_small_model_weights(const Model& back) {
  const Tensor& w = back.graph.initializers.at("w");
  ASSERT_EQ(w.shape(), (Shape{2048}));
  EXPECT_EQ(w.data<float>()[0], -1024.0f);
  EXPECT_EQ(w.data<float>()[2047], 1023.0f);
}

void expect_bad_model(const fs::path& model, const std::string& says, const std::string& what) {
  try {
    load_model(model.string());
    ADD_FAILURE() << what << ": loaded";
  } catch (const BadModel& e) {
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": wrong exception: " << e.what();
  }
}

TEST(OnnxIo, ExternalOffsetAndLengthAreParsedStrictly) {
  fs::path d = temp_dir("ext-numbers");
  fs::path model = model_with_weights_at_4096(d);
  expect_small_model_weights(load_model(model.string()));  // the well-formed file loads
  // Each of these starts with a number a lenient parser (std::stoll) would accept; "4096x" would
  // even load the right bytes.
  for (std::string bad : {"36x448", "4096x", "4096 ", " 4096", "+4096", "-0", "0x1000", "4.096e3", "", "4096\n",
                          "9223372036854775808", "99999999999999999999999"}) {
    set_external_entry(model, "w", "offset", bad);
    expect_bad_model(model, "offset '" + bad + "' is not a byte count", "offset '" + bad + "'");
  }
  set_external_entry(model, "w", "offset", "4096");
  for (std::string bad : {"8192abc", "-8192", "8192.0"}) {
    set_external_entry(model, "w", "length", bad);
    expect_bad_model(model, "length '" + bad + "' is not a byte count", "length '" + bad + "'");
  }
  set_external_entry(model, "w", "length", "8192");
  expect_small_model_weights(load_model(model.string()));  // and loads again once repaired
  fs::remove_all(d);
}

TEST(OnnxIo, ExternalDataBeyondItsFileIsBadModel) {
  fs::path d = temp_dir("ext-range");
  fs::path model = model_with_weights_at_4096(d);  // w.bin: 4096 + 8192 bytes
  // [offset, offset + 8192) must lie inside the 12288-byte file.
  for (std::string off : {"4097", "8192", "12288", "12289", "9223372036854775807"}) {
    set_external_entry(model, "w", "offset", off);
    expect_bad_model(model, "does not fit w.bin (12288 bytes", "offset " + off);
  }
  set_external_entry(model, "w", "offset", "0");  // fits: the 0xAB padding, then half the weights
  {
    Model back = load_model(model.string());
    const Tensor& w = back.graph.initializers.at("w");
    EXPECT_EQ(std::string(static_cast<const char*>(w.raw()), 4), std::string(4, '\xAB'));
    EXPECT_EQ(w.data<float>()[1024], -1024.0f);  // byte 4096 of the file: the weights' first value
  }
  // A length that disagrees with the tensor's shape is refused even where it fits the file.
  set_external_entry(model, "w", "length", "4096");
  expect_bad_model(model, "8192 needed for shape", "length 4096");
  fs::remove_all(d);
}

TEST(OnnxIo, ExternalLocationMustStayInTheModelFolder) {
  fs::path d = temp_dir("ext-location");
  fs::create_directories(d / "model" / "sub");
  fs::create_directories(d / "elsewhere");
  fs::path model = model_with_weights_at_4096(d / "model");
  fs::copy_file(d / "model" / "w.bin", d / "elsewhere" / "w.bin");
  fs::copy_file(d / "model" / "w.bin", d / "w.bin");
  // Symbolic links: one to a file outside, one to a folder outside, one that stays inside.
  fs::create_symlink(d / "elsewhere" / "w.bin", d / "model" / "out-link.bin");
  fs::create_symlink(d / "elsewhere", d / "model" / "out-dir");
  fs::create_symlink("w.bin", d / "model" / "in-link.bin");
  for (std::string loc : {"../w.bin", "sub/../../w.bin", "../elsewhere/w.bin", "out-link.bin", "out-dir/w.bin",
                          "sub/../out-dir/w.bin", ".", "sub/.."}) {
    set_external_entry(model, "w", "location", loc);
    expect_bad_model(model, "outside the model's folder", "location '" + loc + "'");
  }
  for (std::string loc : {(d / "model" / "w.bin").string(), (d / "elsewhere" / "w.bin").string()}) {
    set_external_entry(model, "w", "location", loc);
    expect_bad_model(model, "is absolute", "location '" + loc + "'");
  }
  // Inside the folder: a plain name, a '..' that comes back in, a link to a file beside the model.
  for (std::string loc : {"w.bin", "sub/../w.bin", "./w.bin", "in-link.bin"}) {
    set_external_entry(model, "w", "location", loc);
    SCOPED_TRACE("location '" + loc + "'");
    expect_small_model_weights(load_model(model.string()));
  }
  // A missing file, or a folder, cannot be read: an I/O error, not a malformed model.
  for (std::string loc : {"missing.bin", "sub"}) {
    set_external_entry(model, "w", "location", loc);
    EXPECT_THROW(load_model(model.string()), IoError) << loc;
  }
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
