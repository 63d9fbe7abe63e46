// `kiln export --dtype fp16` (weight-only float16 storage): bert-tiny and t5-tiny from their
// checkpoints give files about half the size whose outputs, in kiln and in ONNX Runtime, stay within
// 1e-2 of PyTorch's float32 outputs (ref/*_outputs.json; 2e-2 for t5-tiny's encoder, see below);
// libonnx's checker accepts them; kiln folds the Casts back into float32 initializers at load.
#include <gtest/gtest.h>

#include <filesystem>

#include "export/export.h"
#include "export/fp16_weights.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;

namespace {

// config.json + model.safetensors of a fixture model, exported with `dtype` into root/<dtype>.
fs::path export_fixture(const fs::path& root, const std::string& model, const std::string& dtype, bool merged = false) {
  fs::path src = root / ("src-" + dtype);
  fs::create_directories(src);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::fixture("models/" + model + "/" + f), src / f);
  ExportOptions o;
  o.dtype = dtype;
  o.merged = merged;
  fs::path out = root / dtype;
  export_model(src.string(), out.string(), o);
  return out;
}

NamedTensors ref(const std::string& model, const std::string& file) {
  return read_tensors_json(test::fixture("models/" + model + "/ref/" + file));
}

void expect_close(const NamedTensors& got, const NamedTensors& want, double tol, const std::string& what) {
  ASSERT_FALSE(want.empty()) << what;
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": no output " << name;
    EXPECT_LE(test::relative_error(got.at(name), t), tol) << what << " " << name;
  }
}

// The file stores no float32 weight of kMinFp16Elements or more elements: each is a float16
// initializer read by one Cast to float32 (in every graph, If branches included).
void expect_fp16_storage(const Graph& g, int& casts) {
  for (const auto& [name, t] : g.initializers)
    if (t.dtype() == DType::F32) EXPECT_LT(t.numel(), kMinFp16Elements) << name;
  for (const auto& n : g.nodes) {
    if (n.op_type == "Cast" && g.is_initializer(n.inputs[0])) {
      EXPECT_EQ(g.initializers.at(n.inputs[0]).dtype(), DType::F16) << n.inputs[0];
      EXPECT_EQ(n.attr_int("to", 0), (int64_t)DType::F32);
      ++casts;
    }
    for (const auto& [_, a] : n.attributes) {
      if (a.g) expect_fp16_storage(*a.g, casts);
      for (const auto& sub : a.graphs) expect_fp16_storage(*sub, casts);
    }
  }
}

// Loaded into a session, the graph has no Cast of a constant left and only float32 weights: the
// casts were folded into float32 initializers, so kiln runs the same graph as for an fp32 export.
void expect_folded_at_load(const Session& s) {
  for (const auto& n : s.model().graph.nodes)
    if (n.op_type == "Cast") EXPECT_FALSE(s.model().graph.is_initializer(n.inputs[0])) << n.name;
  for (const auto& [name, t] : s.model().graph.initializers) EXPECT_NE(t.dtype(), DType::F16) << name;
}

double size_ratio(const fs::path& fp16, const fs::path& fp32) {
  return (double)fs::file_size(fp16) / (double)fs::file_size(fp32);
}

TEST(ExportFp16, BertTinyHalfTheSizeWithinOnePercentOfPyTorch) {
  test::ScratchDir d("fp16-bert");
  fs::path fp32 = export_fixture(d.path, "bert-tiny", "fp32"), fp16 = export_fixture(d.path, "bert-tiny", "fp16");
  std::string model = (fp16 / "model.onnx").string();
  double ratio = size_ratio(model, fp32 / "model.onnx");
  EXPECT_GT(ratio, 0.45);
  EXPECT_LT(ratio, 0.55);
  test::onnx_check(model);
  int casts = 0;
  expect_fp16_storage(load_model(model).graph, casts);
  EXPECT_GT(casts, 20);  // bert-tiny: 2 layers of 6 linear weights, embeddings, head
  Session s(model);
  expect_folded_at_load(s);
  for (std::string c : {"case0", "case1"}) {
    SCOPED_TRACE(c);
    NamedTensors feeds = ref("bert-tiny", c + "_inputs.json"), want = ref("bert-tiny", c + "_outputs.json");
    expect_close(s.run(feeds), want, 1e-2, "kiln");
    if (test::ort_peer().empty()) continue;
    expect_close(test::run_ort(model, feeds, d.path.string()), want, 1e-2, "ONNX Runtime");
    for (const auto& [name, err] : test::kiln_vs_ort(model, feeds, d.path.string()))
      EXPECT_LE(err, 1e-4) << "kiln vs ONNX Runtime " << name;
  }
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
}

TEST(ExportFp16, T5TinyEveryGraphNearPyTorch) {
  test::ScratchDir d("fp16-t5");
  fs::path fp32 = export_fixture(d.path, "t5-tiny", "fp32"), fp16 = export_fixture(d.path, "t5-tiny", "fp16", true);
  for (std::string g : {"encoder", "decoder", "decoder_with_past"}) {
    SCOPED_TRACE(g);
    std::string model = (fp16 / (g + "_model.onnx")).string();
    double ratio = size_ratio(model, fp32 / (g + "_model.onnx"));
    EXPECT_GT(ratio, 0.45);
    EXPECT_LT(ratio, 0.55);
    test::onnx_check(model);
    int casts = 0;
    expect_fp16_storage(load_model(model).graph, casts);
    EXPECT_GT(casts, 0);
    Session s(model);
    expect_folded_at_load(s);
    NamedTensors feeds = ref("t5-tiny", g + "_inputs.json"), want = ref("t5-tiny", g + "_outputs.json");
    // The encoder of this random-weight model amplifies the weights' rounding more than the other
    // graphs do: its last_hidden_state is 1.3e-2 from PyTorch's (one token of the 22: 0.12 on values
    // near 6; the others below 1e-2), the same in kiln and ONNX Runtime (which agree within 1e-4
    // below), so it is the float16 weights, not either runtime. The decoders stay within 3e-3.
    const double tol = g == "encoder" ? 2e-2 : 1e-2;
    expect_close(s.run(feeds), want, tol, "kiln");
    if (test::ort_peer().empty()) continue;
    expect_close(test::run_ort(model, feeds, d.path.string()), want, tol, "ONNX Runtime");
    for (const auto& [name, err] : test::kiln_vs_ort(model, feeds, d.path.string()))
      EXPECT_LE(err, 1e-4) << "kiln vs ONNX Runtime " << name;
  }
  // The merged decoder: its branches read the float16 weights' casts from the outer graph.
  std::string merged = (fp16 / "decoder_model_merged.onnx").string();
  test::onnx_check(merged);
  int casts = 0;
  expect_fp16_storage(load_model(merged).graph, casts);
  EXPECT_GT(casts, 0);
  Session s(merged);
  NamedTensors feeds = ref("t5-tiny", "decoder_with_past_inputs.json");
  feeds["use_cache_branch"] = Tensor::from_vector<bool>({1}, {true});
  NamedTensors want = ref("t5-tiny", "decoder_with_past_outputs.json");
  expect_close(s.run(feeds, {"logits"}), {{"logits", want.at("logits")}}, 1e-2, "kiln merged");
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  expect_close(test::run_ort(merged, feeds, d.path.string()), {{"logits", want.at("logits")}}, 1e-2,
               "ONNX Runtime merged");
}

TEST(ExportFp16, SmallAndOutOfRangeTensorsStayFloat32) {
  Graph g;
  g.initializers["small"] = Tensor::from_vector<float>({kMinFp16Elements - 1}, std::vector<float>(kMinFp16Elements - 1, 1.5f));
  std::vector<float> big(32, 0.25f);
  g.initializers["w"] = Tensor::from_vector<float>({32}, big);
  big[3] = 1e6f;  // beyond float16's 65504: would become infinity
  g.initializers["huge"] = Tensor::from_vector<float>({32}, big);
  g.initializers["ids"] = Tensor::from_vector<int64_t>({32}, std::vector<int64_t>(32, 7));
  EXPECT_EQ(store_weights_fp16(g), 1);
  EXPECT_EQ(g.initializers.at("small").dtype(), DType::F32);
  EXPECT_EQ(g.initializers.at("huge").dtype(), DType::F32);
  EXPECT_EQ(g.initializers.at("ids").dtype(), DType::I64);
  EXPECT_FALSE(g.is_initializer("w"));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Cast");
  EXPECT_EQ(g.nodes[0].inputs, std::vector<std::string>{"w_fp16"});
  EXPECT_EQ(g.nodes[0].outputs, std::vector<std::string>{"w"});
  EXPECT_EQ(g.initializers.at("w_fp16").dtype(), DType::F16);
  EXPECT_EQ((float)g.initializers.at("w_fp16").data<Half>()[0], 0.25f);
}

TEST(ExportFp16, RefusesOtherDtypes) {
  test::ScratchDir d("fp16-refuse");
  ExportOptions o;
  o.dtype = "int4";
  o.random_weights = true;
  try {
    export_model(test::fixture("models/bert-tiny/config.json"), (d.path / "out").string(), o);
    FAIL() << "--dtype int4 was accepted";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("fp32 or fp16"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(d.path / "out"));
}

}  // namespace
