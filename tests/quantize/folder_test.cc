// `kiln quantize` on files and folders: refusals, save/load round trip, shared weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "quantize/quantize_model.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::quantize;
namespace fs = std::filesystem;

namespace {

struct TempDir : test::ScratchDir {
  TempDir() : test::ScratchDir("kiln-quant") {}
};

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST(QuantizeFile, RoundTripThroughSaveAndLoad) {
  TempDir d;
  Model m = qtest::mlp_model();
  save_model(m, (d.path / "mlp.onnx").string());
  Report r = quantize_path((d.path / "mlp.onnx").string(), (d.path / "out").string(),
                           preset_options("avx512_vnni", false));
  ASSERT_TRUE(fs::exists(d.path / "out" / "mlp.onnx"));
  Model back = load_model((d.path / "out" / "mlp.onnx").string());
  Model direct = qtest::mlp_model();
  quantize_model(direct, preset_options("avx512_vnni", false));
  ASSERT_EQ(back.graph.nodes.size(), direct.graph.nodes.size());
  for (size_t i = 0; i < back.graph.nodes.size(); ++i) {
    EXPECT_EQ(back.graph.nodes[i].op_type, direct.graph.nodes[i].op_type);
    EXPECT_EQ(back.graph.nodes[i].inputs, direct.graph.nodes[i].inputs);
  }
  ASSERT_EQ(back.graph.initializers.size(), direct.graph.initializers.size());
  for (const auto& [name, t] : direct.graph.initializers) {
    const Tensor& b = back.graph.initializers.at(name);
    ASSERT_EQ(b.dtype(), t.dtype()) << name;
    ASSERT_EQ(b.shape(), t.shape()) << name;
    EXPECT_EQ(0, std::memcmp(b.raw(), t.raw(), t.nbytes())) << name;
  }
  ASSERT_EQ(r.files.size(), 1u);
  // no temporary files left behind
  for (const auto& e : fs::directory_iterator(d.path / "out"))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(QuantizeCli, Refusals) {
  TempDir d;
  Model m = qtest::mlp_model();
  fs::create_directories(d.path / "in");
  save_model(m, (d.path / "in" / "model.onnx").string());
  std::string k = test::kiln_binary(), out;

  // static without calibration data
  int rc = test::run_command(k + " quantize " + q(d.path / "in") + " " + q(d.path / "o1") + " --static", &out);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("calibration data"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(d.path / "o1" / "model.onnx"));

  // OUT equal to IN, OUT inside IN, OUT equal to the input file
  rc = test::run_command(k + " quantize " + q(d.path / "in") + " " + q(d.path / "in"), &out);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("input folder"), std::string::npos) << out;
  rc = test::run_command(k + " quantize " + q(d.path / "in") + " " + q(d.path / "in" / "sub"), &out);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("inside the input folder"), std::string::npos) << out;
  rc = test::run_command(k + " quantize " + q(d.path / "in" / "model.onnx") + " " + q(d.path / "in"), &out);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("overwrite"), std::string::npos) << out;

  // not an ONNX file
  { std::ofstream(d.path / "junk.onnx") << "this is not protobuf"; }
  rc = test::run_command(k + " quantize " + q(d.path / "junk.onnx") + " " + q(d.path / "o2"), &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("not a valid ONNX model"), std::string::npos) << out;
  { std::ofstream(d.path / "notes.txt") << "hello"; }
  rc = test::run_command(k + " quantize " + q(d.path / "notes.txt") + " " + q(d.path / "o3"), &out);
  EXPECT_EQ(rc, 3) << out;
  // every error is one line
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  // nothing to quantize: a warning, exit 0
  Model plain;
  plain.opsets = {{"", 13}};
  plain.graph.inputs = {qtest::value("X", DType::F32, {2})};
  plain.graph.outputs = {qtest::value("Y", DType::F32, {2})};
  plain.graph.nodes.push_back(qtest::node("Relu", {"X"}, {"Y"}, "r"));
  save_model(plain, (d.path / "plain.onnx").string());
  rc = test::run_command(k + " quantize " + q(d.path / "plain.onnx") + " " + q(d.path / "o4" / "plain.onnx"), &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("warning: "), std::string::npos) << out;
  EXPECT_NE(out.find("nothing to quantize"), std::string::npos) << out;
}

TEST(QuantizeFolder, Seq2SeqDecodersShareOneWeightsFile) {
  std::string src = test::fixture("models/t5-tiny");
  TempDir d;
  // The input stays untouched: compare its listing before and after.
  std::vector<std::string> before;
  for (const auto& e : fs::directory_iterator(src)) before.push_back(e.path().filename().string());
  Options o = preset_options("avx512_vnni", false);
  o.quantize_embeddings = true;
  Report r = quantize_path(src, (d.path / "q").string(), o);
  std::vector<std::string> after;
  for (const auto& e : fs::directory_iterator(src)) after.push_back(e.path().filename().string());
  EXPECT_EQ(before, after);

  for (const char* f : {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "config.json",
                        "weights.onnx_data", "kiln_quantize.json", "ort_config.json"})
    EXPECT_TRUE(fs::exists(d.path / "q" / f)) << f;
  EXPECT_GT(r.bytes_deduplicated, 0);

  // Both decoders load (external data mapped from the one file), and every large weight of
  // decoder_with_past has a byte-identical twin in decoder (the exporter names them differently).
  Model dec = load_model((d.path / "q" / "decoder_model.onnx").string());
  Model past = load_model((d.path / "q" / "decoder_with_past_model.onnx").string());
  int shared = 0, large = 0;
  for (const auto& [name, t] : past.graph.initializers) {
    if (t.nbytes() < 1024) continue;
    ++large;
    for (const auto& [n2, t2] : dec.graph.initializers)
      if (t2.nbytes() == t.nbytes() && std::memcmp(t.raw(), t2.raw(), t.nbytes()) == 0) {
        ++shared;
        break;
      }
  }
  EXPECT_GT(large, 10);
  EXPECT_EQ(shared, large);
  // Storing the decoders' weights once beats writing each graph with its own copy.
  Report separate = [&] {
    Options o2 = o;
    o2.share_weights = false;
    return quantize_path(src, (d.path / "q2").string(), o2);
  }();
  EXPECT_LT(r.graph_bytes_after(), separate.graph_bytes_after());
}

TEST(QuantizeCli, JsonSummaryOfAFolder) {
  TempDir d;
  std::string out;
  int rc = test::run_command(test::kiln_binary() + " quantize " + q(test::fixture("models/t5-tiny")) + " " +
                                 q(d.path / "q") + " --avx512_vnni --per_channel --json 2>/dev/null",
                             &out);
  ASSERT_EQ(rc, 0) << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["options"]["preset"], "avx512_vnni");
  EXPECT_EQ(j["options"]["per_channel"], true);
  int graphs = 0, weights = 0;
  int64_t after = 0;
  for (const auto& f : j["files"]) {
    graphs += f["role"] == "graph";
    weights += f["role"] == "weights";
    if (f["role"] != "copied") after += f["bytes_after"].get<int64_t>();
    if (f["role"] == "graph") EXPECT_GT(f["quantized"]["MatMul"].get<int>(), 0) << f["name"];
  }
  EXPECT_EQ(graphs, 3);
  EXPECT_EQ(weights, 1);
  EXPECT_EQ(after, j["total_bytes_after"].get<int64_t>());
  EXPECT_GT(j["bytes_deduplicated"].get<int64_t>(), 0);
  // the folder's files, as they are on disk
  EXPECT_EQ(j["total_bytes_after"].get<int64_t>(),
            (int64_t)(fs::file_size(d.path / "q" / "encoder_model.onnx") + fs::file_size(d.path / "q" / "decoder_model.onnx") +
                      fs::file_size(d.path / "q" / "decoder_with_past_model.onnx") +
                      fs::file_size(d.path / "q" / "weights.onnx_data")));
  nlohmann::json ort = nlohmann::json::parse(read_file((d.path / "q" / "ort_config.json").string()));
  EXPECT_EQ(ort["quantization"]["weights_dtype"], "QInt8");
  EXPECT_EQ(ort["quantization"]["per_channel"], true);
}

// A folder in Optimum's Hub layout (graphs under onnx/) with a tokenizer.txt pointer: the graph is
// found there and written at the same place, the files that travel with it are copied, and the
// pointer still names the same tokenizer folder from the output.
TEST(QuantizeFolder, OnnxSubfolderAndTokenizerPointer) {
  TempDir d;
  fs::path src = d.path / "models" / "m", tok = d.path / "tok";
  fs::create_directories(src / "onnx");
  fs::create_directories(tok);
  fs::copy_file(test::fixture("models/distilbert-tiny/model.onnx"), src / "onnx" / "model.onnx");
  fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), src / "config.json");
  std::ofstream(src / "special_tokens_map.json") << "{}";
  std::ofstream(tok / "tokenizer.json") << "{}";
  std::ofstream(src / "tokenizer.txt") << "use ../../tok\n";
  fs::path out = d.path / "out" / "q";
  Report r = quantize_path(src.string(), out.string(), preset_options("avx512_vnni", false));
  ASSERT_TRUE(fs::exists(out / "onnx" / "model.onnx"));
  EXPECT_FALSE(fs::exists(out / "model.onnx"));
  Model m = load_model((out / "onnx" / "model.onnx").string());
  bool integer = false;
  for (const auto& n : m.graph.nodes) integer = integer || n.op_type == "MatMulInteger" || n.op_type == "DynamicQuantizeLinear";
  EXPECT_TRUE(integer);
  for (const char* f : {"config.json", "special_tokens_map.json", "kiln_quantize.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  std::string pointer = read_file((out / "tokenizer.txt").string());
  ASSERT_EQ(pointer.rfind("use ", 0), 0u) << pointer;
  pointer = pointer.substr(4);
  pointer.erase(pointer.find_last_not_of("\n") + 1);
  EXPECT_EQ(fs::weakly_canonical(out / pointer), fs::weakly_canonical(tok)) << pointer;
  std::vector<std::string> names;
  for (const auto& f : r.files) names.push_back(f.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "tokenizer.txt"), names.end());
}
