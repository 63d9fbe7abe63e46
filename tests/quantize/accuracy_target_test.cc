// --accuracy-target: a node whose per-tensor quantization ruins the logits must be left in float.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"

using namespace kiln;
using namespace kiln::quantize;
namespace fs = std::filesystem;

TEST(AccuracyTarget, SensitiveNodeStaysFloat) {
  fs::path dir = fs::temp_directory_path() / ("kiln-acc-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // logits = (X . Wbad) . Wok. Wbad has one huge entry: per tensor, every other weight rounds to 0,
  // and the logits (which do not read that entry's column) lose their signal.
  Tensor wbad = qtest::random_matrix(16, 16, 11, -0.1f, 0.1f), wok = qtest::random_matrix(16, 4, 12);
  wbad.data<float>()[5] = 1000.0f;  // feeds h[5], which Wok ignores (row 5 is zero)
  for (int j = 0; j < 4; ++j) wok.data<float>()[5 * 4 + j] = 0.0f;
  Model m;
  m.opsets = {{"", 13}};
  m.graph.inputs = {qtest::value("X", DType::F32, {1, 16})};
  m.graph.outputs = {qtest::value("logits", DType::F32, {1, 4})};
  m.graph.initializers["Wbad"] = wbad;
  m.graph.initializers["Wok"] = wok;
  m.graph.nodes.push_back(qtest::node("MatMul", {"X", "Wbad"}, {"h"}, "bad"));
  m.graph.nodes.push_back(qtest::node("MatMul", {"h", "Wok"}, {"logits"}, "ok"));
  save_model(m, (dir / "model.onnx").string());
  // Labels: the fp32 argmax, computed here with plain loops.
  std::string lines;
  for (int s = 0; s < 24; ++s) {
    Tensor x = qtest::random_matrix(1, 16, 200 + s);
    std::vector<double> h(16, 0.0), l(4, 0.0);
    for (int j = 0; j < 16; ++j)
      for (int k = 0; k < 16; ++k) h[j] += (double)x.data<float>()[k] * wbad.data<float>()[k * 16 + j];
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 16; ++k) l[j] += h[k] * wok.data<float>()[k * 4 + j];
    int64_t label = std::max_element(l.begin(), l.end()) - l.begin();
    nlohmann::json j;
    j["label"] = label;
    j["X"] = tensor_to_json(x);
    lines += j.dump() + "\n";
  }
  write_file_atomic((dir / "eval.jsonl").string(), lines);

  Options o = preset_options("avx512_vnni", false);
  o.accuracy_target = 0.0;
  o.eval_data = (dir / "eval.jsonl").string();
  Report r = quantize_path((dir / "model.onnx").string(), (dir / "out").string(), o);
  ASSERT_TRUE(r.accuracy_tuned);
  EXPECT_EQ(r.accuracy_fp32, 100.0);
  EXPECT_LT(r.accuracy_all_quantized, 100.0);
  ASSERT_FALSE(r.kept_float.empty());
  EXPECT_EQ(r.kept_float[0], "bad");
  EXPECT_EQ(r.accuracy_final, 100.0);
  Model out = load_model((dir / "out" / "model.onnx").string());
  EXPECT_EQ(out.graph.initializers.count("Wbad"), 1u);  // still float
  fs::remove_all(dir);

  Options bad = preset_options("avx512_vnni", false);
  bad.accuracy_target = 1.0;
  EXPECT_THROW(validate_options(bad), BadInput);  // no --eval-data
}
