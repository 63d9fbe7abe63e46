// kiln's quantizer against ONNX Runtime's quantizer, and ONNX Runtime running every kind of file
// kiln's quantizer writes, at the tolerance the arithmetic allows.
//
// Both runtimes compute the int8 products as exact integers, so what is left between them is float
// rounding in the ops that stay float: measured 7e-10 .. 7e-8 of the output's magnitude on the
// shared models. kParity (1e-5) leaves two orders of magnitude for a different summation order in
// a float kernel; a zero point or a rounding mode off by one step moves these outputs by 1e-3 or
// more, so it fails here.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "quantize/quantize_model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::quantize;
namespace fs = std::filesystem;

namespace {

constexpr double kParity = 1e-5;

struct Scratch : test::ScratchDir {
  Scratch() : test::ScratchDir("kiln-parity") {}
};

NamedTensors case_inputs(const std::string& model, int c) {
  return read_tensors_json(test::fixture("models/" + model + "/ref/case" + std::to_string(c) + "_inputs.json"));
}

// ONNX Runtime's quantize_dynamic settings for the shared model_quantized.onnx files
// (model_quantized_info.json): per tensor, int8 symmetric weights, uint8 activations, every
// MatMul with a constant weight and every Gather from a float table.
Options ort_quantize_dynamic_settings() {
  Options o = preset_options("avx512_vnni", false);
  o.quantize_embeddings = true;
  return o;
}

int count_quantized_weights(const Graph& g) {
  int n = 0;
  for (const auto& [name, t] : g.initializers)
    n += (t.dtype() == DType::I8 || t.dtype() == DType::U8) && name.ends_with("_quantized");
  return n;
}

// kiln's initializer for ONNX Runtime's name. A Gemm with transB is quantized from its transposed
// weight: ONNX Runtime's quantizer rewrites the float weight in place (same name), kiln writes the
// transposed copy as NAME_T (the float weight may have other readers), so NAME_x is NAME_T_x.
const Tensor* ours_for(const Graph& ours, const std::string& name) {
  auto it = ours.initializers.find(name);
  if (it != ours.initializers.end()) return &it->second;
  for (const char* suffix : {"_quantized", "_scale", "_zero_point"})
    if (name.ends_with(suffix)) {
      std::string stem = name.substr(0, name.size() - std::strlen(suffix));
      it = ours.initializers.find(stem + "_T" + suffix);
      if (it != ours.initializers.end()) return &it->second;
    }
  return nullptr;
}

}  // namespace

// The same settings give the same file: every quantized weight, scale and zero point of ONNX
// Runtime's model_quantized.onnx is in kiln's output under the same name with the same bytes, the
// same integer ops are inserted, and both runtimes reproduce ONNX Runtime's outputs.
TEST(OrtQuantizerParity, SameWeightsOpsAndOutputs) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  struct Expect {
    const char* model;
    int quantized_weights;  // MatMul weights + embedding tables in model_quantized_info.json
  };
  for (Expect e : {Expect{"bert-tiny", 14 + 3}, Expect{"distilbert-tiny", 14 + 2}}) {
    SCOPED_TRACE(e.model);
    Scratch d;
    std::string dir = test::fixture(std::string("models/") + e.model);
    fs::path out = d.path / "model.onnx";
    quantize_path(dir + "/model.onnx", out.string(), ort_quantize_dynamic_settings());

    Model ours = load_model(out.string()), theirs = load_model(dir + "/model_quantized.onnx");
    ASSERT_EQ(count_quantized_weights(theirs.graph), e.quantized_weights);
    ASSERT_EQ(count_quantized_weights(ours.graph), e.quantized_weights);
    int compared = 0;
    for (const auto& [name, t] : theirs.graph.initializers) {
      // the weights' q, scale and zero point (activations' scales are computed at run time)
      std::string stem = name.substr(0, name.rfind('_'));
      if (name.ends_with("_zero_point")) stem = name.substr(0, name.size() - 11);
      bool weight = theirs.graph.initializers.count(stem + "_quantized") > 0;
      if (!weight || !(name.ends_with("_quantized") || name.ends_with("_scale") || name.ends_with("_zero_point")))
        continue;
      const Tensor* kp = ours_for(ours.graph, name);
      ASSERT_NE(kp, nullptr) << "kiln has no " << name;
      const Tensor& k = *kp;
      ASSERT_EQ(k.dtype(), t.dtype()) << name;
      ASSERT_EQ(k.shape(), t.shape()) << name;
      EXPECT_EQ(0, std::memcmp(k.raw(), t.raw(), t.nbytes())) << name << " differs from ONNX Runtime's";
      ++compared;
    }
    EXPECT_EQ(compared, 3 * e.quantized_weights);  // q, scale, zero point of each weight
    for (const char* op : {"MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear", "MatMul"})
      EXPECT_EQ(qtest::count_ops(ours.graph, op), qtest::count_ops(theirs.graph, op)) << op;

    for (int c = 0; c < 2; ++c) {
      SCOPED_TRACE("case " + std::to_string(c));
      NamedTensors in = case_inputs(e.model, c);
      NamedTensors want = read_tensors_json(dir + "/ref/ort_quantized_case" + std::to_string(c) + "_outputs.json");
      NamedTensors got = Session(out.string()).run(in);
      NamedTensors ort = test::run_ort(out.string(), in, d.path.string());
      for (const auto& [name, ref] : want) {
        EXPECT_LE(test::relative_error(got.at(name), ref), kParity) << "kiln on kiln's file: " << name;
        EXPECT_LE(test::relative_error(ort.at(name), ref), kParity) << "ONNX Runtime on kiln's file: " << name;
      }
    }
  }
}

// Without --quantize-embeddings (Optimum's default: MatMul only) the tables stay float: kiln's file
// differs from ONNX Runtime's quantizer there and only there, and both runtimes agree on it.
TEST(OrtQuantizerParity, WithoutEmbeddingsTablesStayFloat) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  for (const char* model : {"bert-tiny", "distilbert-tiny"}) {
    SCOPED_TRACE(model);
    Scratch d;
    std::string dir = test::fixture(std::string("models/") + model);
    fs::path out = d.path / "model.onnx";
    quantize_path(dir + "/model.onnx", out.string(), preset_options("avx512_vnni", false));
    Model ours = load_model(out.string()), theirs = load_model(dir + "/model_quantized.onnx");
    EXPECT_EQ(qtest::count_ops(ours.graph, "DequantizeLinear"), 0);
    EXPECT_EQ(qtest::count_ops(ours.graph, "MatMulInteger"), qtest::count_ops(theirs.graph, "MatMulInteger"));
    for (const auto& [name, t] : theirs.graph.initializers)
      if (name.ends_with("_quantized") && name.find("embeddings") == std::string::npos) {
        const Tensor* k = ours_for(ours.graph, name);
        ASSERT_NE(k, nullptr) << name;
        ASSERT_EQ(k->nbytes(), t.nbytes()) << name;
        EXPECT_EQ(0, std::memcmp(k->raw(), t.raw(), t.nbytes())) << name;
      }
    for (int c = 0; c < 2; ++c)
      for (const auto& [name, err] : test::kiln_vs_ort(out.string(), case_inputs(model, c), d.path.string()))
        EXPECT_LE(err, kParity) << name << " case " << c;
  }
}

// Every preset and weight layout kiln writes runs in ONNX Runtime with kiln's outputs.
TEST(OrtRunsKilnQuantized, EveryDynamicPresetAndPerChannel) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  for (const char* preset : {"avx512_vnni", "avx2", "arm64"})
    for (bool per_channel : {false, true}) {
      SCOPED_TRACE(std::string(preset) + (per_channel ? " per-channel" : ""));
      Scratch d;
      Options o = preset_options(preset, false);
      o.per_channel = per_channel;
      o.quantize_embeddings = true;
      fs::path out = d.path / "model.onnx";
      quantize_path(test::fixture("models/bert-tiny/model.onnx"), out.string(), o);
      for (int c = 0; c < 2; ++c)
        for (const auto& [name, err] : test::kiln_vs_ort(out.string(), case_inputs("bert-tiny", c), d.path.string()))
          EXPECT_LE(err, kParity) << name << " case " << c;
    }
}

// Static quantization writes QDQ (and QOperator on request); ONNX Runtime runs both with kiln's
// outputs. Calibration uses the reference inputs themselves.
TEST(OrtRunsKilnQuantized, StaticQdqAndQOperator) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  for (const char* preset : {"avx512_vnni", "tensorrt"})
    for (Format f : {Format::QDQ, Format::QOperator}) {
      if (std::string(preset) == "tensorrt" && f == Format::QOperator) continue;  // tensorrt is QDQ only
      SCOPED_TRACE(std::string(preset) + " " + format_name(f));
      Scratch d;
      Options o = preset_options(preset, true);
      o.format = f;
      o.calibration_data = test::fixture("models/distilbert-tiny/ref/case0_inputs.json");
      fs::path out = d.path / "model.onnx";
      quantize_path(test::fixture("models/distilbert-tiny/model.onnx"), out.string(), o);
      Model q = load_model(out.string());
      EXPECT_GT(qtest::count_ops(q.graph, f == Format::QDQ ? "QuantizeLinear" : "QLinearMatMul"), 0);
      // Every initializer written is read (tensorrt's weight pairs once left every *_quantized copy
      // unused: 116 % of the float file here, 124 % on a production model).
      std::set<std::string> read;
      for (const auto& n : q.graph.nodes) read.insert(n.inputs.begin(), n.inputs.end());
      for (const auto& [name, t] : q.graph.initializers) EXPECT_TRUE(read.count(name)) << "unused initializer " << name;
      for (int c = 0; c < 2; ++c)
        for (const auto& [name, err] :
             test::kiln_vs_ort(out.string(), case_inputs("distilbert-tiny", c), d.path.string()))
          EXPECT_LE(err, kParity) << name << " case " << c;
    }
}

// The quantized generation folders (encoder + two decoders for t5 and bart, two decoders for gpt2;
// decoder weights in one shared external-data file): each graph runs in kiln and ONNX Runtime with
// the same outputs, and stays near the fp32 model.
TEST(OrtRunsKilnQuantized, GenerationFoldersEveryGraph) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  int graphs = 0;
  for (const char* model : {"t5-tiny", "bart-tiny", "gpt2-tiny"}) {
    Scratch d;
    std::string src = test::fixture(std::string("models/") + model);
    quantize_path(src, (d.path / "q").string(), ort_quantize_dynamic_settings());
    for (const char* g : {"encoder", "decoder", "decoder_with_past"}) {
      if (!fs::exists(src + "/" + g + "_model.onnx")) continue;
      SCOPED_TRACE(std::string(model) + " " + g);
      std::string graph = (d.path / "q" / (std::string(g) + "_model.onnx")).string();
      NamedTensors in = read_tensors_json(src + "/ref/" + g + "_inputs.json");
      NamedTensors fp32 = read_tensors_json(src + "/ref/" + g + "_outputs.json");
      NamedTensors got = Session(graph).run(in);
      NamedTensors ort = test::run_ort(graph, in, d.path.string());
      ASSERT_EQ(ort.size(), fp32.size());
      for (const auto& [name, ref] : fp32) {
        ASSERT_TRUE(got.count(name) && ort.count(name)) << name;
        EXPECT_LE(test::relative_error(got.at(name), ort.at(name)), kParity) << name;
        // int8 against float, a sanity bound: random T5 weights without attention scaling lose a
        // lot to per-tensor activations (measured 0.22 on the encoder, 0.31 with tables left float)
        EXPECT_LE(test::relative_error(got.at(name), ref), 0.4) << name;
      }
      ++graphs;
    }
  }
  EXPECT_EQ(graphs, 3 + 3 + 2);
}

// Weights held in Constant nodes (as paddle2onnx writes them) are quantized like initializers, and
// the file still runs in ONNX Runtime with kiln's outputs, close to the float model.
TEST(OrtRunsKilnQuantized, WeightsInConstantNodes) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  Model m = qtest::mlp_model();
  std::vector<Node> constants;
  for (const char* w : {"W0", "W1"}) {
    Node c = qtest::node("Constant", {}, {w}, std::string(w) + "_constant");
    Attribute a;
    a.kind = Attribute::Kind::Tensor;
    a.t = m.graph.initializers.at(w);
    c.attributes["value"] = a;
    constants.push_back(std::move(c));
    m.graph.initializers.erase(w);
  }
  m.graph.nodes.insert(m.graph.nodes.begin(), constants.begin(), constants.end());
  Model q = m;
  GraphStats st = quantize_model(q, preset_options("avx512_vnni", false));
  EXPECT_EQ(st.total_quantized(), 2);
  EXPECT_EQ(qtest::count_ops(q.graph, "MatMulInteger"), 2);
  EXPECT_EQ(qtest::count_ops(q.graph, "Constant"), 0);  // promoted, then replaced by int8 weights

  Scratch d;
  std::string path = (d.path / "q.onnx").string();
  save_model(q, path);
  Tensor x = qtest::random_matrix(3, 8, 31);
  for (const auto& [name, err] : test::kiln_vs_ort(path, {{"X", x}}, d.path.string())) EXPECT_LE(err, kParity) << name;
  NamedTensors f32 = Session(m).run({{"X", x}}), i8 = Session(path).run({{"X", x}});
  EXPECT_LT(test::relative_error(i8.at("Y"), f32.at("Y")), 0.05);
}
