// kiln/quantize.h's AccuracyProbe: a program scores accuracy_target its own way through
// quantize_path(in, out, options, progress, probe_maker).
#include <gtest/gtest.h>

#include <fstream>

#include "kiln/error.h"
#include "kiln/quantize.h"
#include "kiln/session.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace {

struct Calls {
  std::string eval_data;
  std::vector<std::string> input_names;
  int sessions = 0;
};

// Runs every session on one fixed input; every answer counts as right.
class AlwaysRight final : public kiln::quant::AccuracyProbe {
 public:
  explicit AlwaysRight(Calls& calls) : calls_(calls) {}
  std::vector<kiln::Tensor> outputs(const kiln::Session& session) const override {
    ++calls_.sessions;
    kiln::NamedTensors feeds;
    for (const std::string& name : calls_.input_names)
      feeds[name] = kiln::Tensor::from_vector<int64_t>({1, 4}, name == "input_ids" ? std::vector<int64_t>{101, 7, 9, 102}
                                                                                   : std::vector<int64_t>{1, 1, 1, 1});
    return {session.run(feeds).at("logits")};
  }
  double accuracy(const std::vector<kiln::Tensor>&) const override { return 100.0; }

 private:
  Calls& calls_;
};

}  // namespace

TEST(QuantizeProbe, AProgramsProbeScoresTheAccuracyTarget) {
  const std::string model = kiln::test::fixture("models/distilbert-tiny/model.onnx");
  // The graph's inputs, as libonnx reads them.
  onnx::ModelProto proto;
  std::ifstream in(model, std::ios::binary);
  ASSERT_TRUE(proto.ParseFromIstream(&in));
  std::vector<std::string> graph_inputs;
  for (const auto& v : proto.graph().input()) graph_inputs.push_back(v.name());

  kiln::test::ScratchDir d("kiln-quantize-probe");
  kiln::quant::Options o = kiln::quant::preset_options("avx512_vnni", false);
  o.accuracy_target = 1.0;
  o.eval_data = "my own labelled set";  // passed to the maker as it is; kiln does not read it
  Calls calls;
  kiln::quant::AccuracyProbeMaker maker = [&](const std::string& eval_data, const std::vector<std::string>& names) {
    calls.eval_data = eval_data;
    calls.input_names = names;
    return std::make_unique<AlwaysRight>(calls);
  };
  kiln::quant::Report r = kiln::quant::quantize_path(model, (d.path / "q.onnx").string(), o, {}, maker);
  EXPECT_EQ(calls.eval_data, "my own labelled set");
  EXPECT_EQ(calls.input_names, graph_inputs);
  EXPECT_GE(calls.sessions, 2);  // fp32, then all quantized
  ASSERT_TRUE(r.accuracy_tuned);
  EXPECT_EQ(r.accuracy_fp32, 100.0);
  EXPECT_EQ(r.accuracy_all_quantized, 100.0);
  EXPECT_EQ(r.accuracy_final, 100.0);
  EXPECT_TRUE(r.kept_float.empty());  // within the target from the start

  // No probe: the target is refused, and nothing is written.
  EXPECT_THROW(kiln::quant::quantize_path(model, (d.path / "none.onnx").string(), o, {}, {}), kiln::Unsupported);
  EXPECT_FALSE(std::filesystem::exists(d.path / "none.onnx"));
}
