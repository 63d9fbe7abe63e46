// quantize_path's steps (quantize/quantize_path.h) on their own: discover's paths and refusals,
// cpu_advice against the CPU's flags, and quantize_graph leaving its file under a temporary name
// until write_folder renames it.
#include <gtest/gtest.h>

#include <filesystem>

#include "kiln/cpu.h"
#include "quantize/presets.h"
#include "quantize/quantize_path.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::quantize;
namespace fs = std::filesystem;

TEST(QuantizeSteps, DiscoverAFolderAndAFile) {
  test::ScratchDir d("kiln-qsteps");
  const std::string in = test::fixture("models/t5-tiny");
  Options o = preset_options("avx512_vnni", false);
  Discovery f = discover(in, (d.path / "out").string(), o);
  EXPECT_TRUE(f.is_folder);
  std::vector<std::string> names;
  for (const auto& g : f.graphs) {
    names.push_back(g.in.filename().string());
    EXPECT_TRUE(fs::equivalent(g.out.parent_path(), d.path / "out")) << g.out;
    EXPECT_EQ(g.out.filename(), g.in.filename());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"}));
  EXPECT_TRUE(fs::is_directory(d.path / "out"));

  const std::string model = test::fixture("models/distilbert-tiny/model.onnx");
  Discovery one = discover(model, (d.path / "int8.onnx").string(), o);
  EXPECT_FALSE(one.is_folder);
  ASSERT_EQ(one.graphs.size(), 1u);
  EXPECT_EQ(one.graphs[0].out.filename(), "int8.onnx");
  Discovery into = discover(model, (d.path / "dir").string(), o);
  EXPECT_EQ(into.graphs[0].out, fs::weakly_canonical(d.path / "dir" / "model.onnx"));
}

TEST(QuantizeSteps, DiscoverRefuses) {
  test::ScratchDir d("kiln-qsteps");
  const std::string in = test::fixture("models/t5-tiny");
  Options o = preset_options("avx512_vnni", false);
  EXPECT_THROW(discover(in, in, o), BadInput);
  EXPECT_THROW(discover(in, in + "/sub", o), BadInput);
  EXPECT_THROW(discover(test::fixture("models/t5-tiny/config.json"), (d.path / "x").string(), o), BadInput);
  EXPECT_THROW(discover((d.path / "missing").string(), (d.path / "x").string(), o), IoError);
  Options acc = o;
  acc.accuracy_target = 1;
  acc.eval_data = "unused.jsonl";
  EXPECT_THROW(discover(in, (d.path / "y").string(), acc), Unsupported);  // three graphs
}

TEST(QuantizeSteps, CpuAdviceFollowsTheCpusVnni) {
  Options o = preset_options("avx512_vnni", false);  // u8 activations, s8 weights
  o.reduce_range = false;
  EXPECT_EQ(cpu_advice(o).empty(), cpu_info().vnni);
  o.reduce_range = true;
  EXPECT_TRUE(cpu_advice(o).empty());
}

TEST(QuantizeSteps, GraphStaysTemporaryUntilWriteFolder) {
  test::ScratchDir d("kiln-qsteps");
  Options o = preset_options("avx512_vnni", false);
  Discovery f = discover(test::fixture("models/distilbert-tiny/model.onnx"), (d.path / "q.onnx").string(), o);
  std::set<std::string> counted;
  GraphContext ctx{o, f.in.parent_path().string(), nullptr, &counted, nullptr, {}};
  std::vector<QuantizedGraph> done{quantize_graph(f.graphs[0], ctx)};
  EXPECT_GT(done[0].file.stats.total_quantized(), 0);
  EXPECT_GT(done[0].file.bytes_after, 0);
  if (!done[0].tmp.empty()) EXPECT_FALSE(fs::exists(d.path / "q.onnx"));
  Report r;
  r.options = o;
  write_folder(f, o, done, nullptr, r);
  EXPECT_TRUE(fs::exists(d.path / "q.onnx"));
  EXPECT_EQ((int64_t)fs::file_size(d.path / "q.onnx"), done[0].file.bytes_after);
  test::onnx_check((d.path / "q.onnx").string());
}
