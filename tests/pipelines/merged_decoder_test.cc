// decoder_model_merged.onnx (Optimum's layout: one graph, an If on use_cache_branch choosing the
// first-step decoder or the with-past decoder) built here from t5-tiny's two decoder graphs; greedy
// and beam generation through it must give transformers' ids (ref/generate_*.json).
#include <gtest/gtest.h>

#include <filesystem>

#include "graph/onnx_io.h"
#include "pipelines/model_dir.h"
#include "pipelines/pipeline.h"
#include "test_util.h"

namespace fs = std::filesystem;
using kiln::test::fixture;

namespace {

// Into `d` (a test's own scratch folder: ctest runs the tests of this file side by side).
std::string make_merged_folder(const fs::path& d) {
  const std::string src = fixture("models/t5-tiny/");
  for (const char* f : {"config.json", "encoder_model.onnx"}) fs::copy_file(src + f, d / f);
  kiln::Model first = kiln::load_model(src + "decoder_model.onnx");
  kiln::Model past = kiln::load_model(src + "decoder_with_past_model.onnx");
  kiln::Model m;
  m.ir_version = first.ir_version;
  m.opsets = first.opsets;
  kiln::Graph& g = m.graph;
  g.name = "merged";
  g.inputs = past.graph.inputs;  // input_ids, encoder_attention_mask, encoder_hidden_states, past_key_values.*
  g.inputs.push_back({"use_cache_branch", kiln::DType::Bool, std::vector<kiln::Dim>{{1, ""}}});
  // Both branches give the first-step graph's outputs, in its order; the with-past branch passes its
  // cross-attention past through (it does not recompute it), as Optimum's merged graphs do.
  auto then_g = std::make_shared<kiln::Graph>(past.graph);
  auto else_g = std::make_shared<kiln::Graph>(first.graph);
  then_g->inputs.clear(), else_g->inputs.clear();
  then_g->outputs.clear(), else_g->outputs.clear();
  kiln::Node node{"merged_if", "If", "", {"use_cache_branch"}, {}, {}, ""};
  for (const auto& out : first.graph.outputs) {
    const std::string& n = out.name;
    bool computed = past.graph.find_output(n) != nullptr;
    std::string from = computed ? n : "past_key_values." + n.substr(std::string("present.").size());
    then_g->nodes.push_back({"then_" + n, "Identity", "", {from}, {"then/" + n}, {}, ""});
    else_g->nodes.push_back({"else_" + n, "Identity", "", {n}, {"else/" + n}, {}, ""});
    then_g->outputs.push_back({"then/" + n, out.dtype, std::nullopt});
    else_g->outputs.push_back({"else/" + n, out.dtype, std::nullopt});
    node.outputs.push_back(n);
    // Declared as Optimum declares them: the rank and fixed sizes, the dimensions on which the two
    // branches disagree (the sequence lengths) unnamed.
    std::optional<std::vector<kiln::Dim>> shape = out.shape;
    if (shape)
      for (auto& d : *shape) d.symbol.clear();
    g.outputs.push_back({n, out.dtype, shape});
  }
  kiln::Attribute t, e;
  t.kind = e.kind = kiln::Attribute::Kind::Graph;
  t.g = then_g, e.g = else_g;
  node.attributes["then_branch"] = t;
  node.attributes["else_branch"] = e;
  g.nodes.push_back(node);
  kiln::save_model(m, (d / "decoder_model_merged.onnx").string());
  return d.string();
}

void check(const std::string& dir, const std::string& mode) {
  auto j = nlohmann::json::parse(kiln::read_file(fixture("models/t5-tiny/ref/generate_" + mode + ".json")));
  kiln::PipelineOptions o;
  o.threads = 1;
  o.batch_size = 2;
  o.generation.max_new_tokens = 12;
  if (mode == "beam") {
    o.generation.num_beams = 4;
    o.generation.early_stopping = true;
  }
  auto p = kiln::pipelines::json_pipeline("text2text-generation", dir, o);
  std::vector<kiln::PipelineInput> in;
  auto& t = j["tensors"];
  for (int i = 0; t.contains("input_ids." + std::to_string(i)); ++i)
    in.push_back(kiln::PipelineInput::from_ids(t["input_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>()));
  ASSERT_GE(in.size(), 3u) << "t5-tiny/ref/generate_" << mode << ".json holds three inputs";
  auto res = p->run(in);
  ASSERT_EQ(res.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(res[i]["sequences"][0], t["output_ids." + std::to_string(i)]["data"]) << mode << " #" << i;
}

}  // namespace

TEST(MergedDecoder, GreedyAndBeamThroughUseCacheBranch) {
  kiln::test::ScratchDir scratch("kiln-merged-t5");
  std::string dir = make_merged_folder(scratch.path);
  check(dir, "greedy");
  check(dir, "beam");
}

// A merged graph alone opens as the two sessions of the two-graph layout: the first step's with
// use_cache_branch fixed false (no past inputs left), the later steps' fixed true with its
// self-attention caches kept time-major and appended in place (as a decoder_with_past_model's).
TEST(MergedDecoder, OpensAsTwoSessionsWhoseCachesGrowInPlace) {
  kiln::test::ScratchDir scratch("kiln-merged-t5");
  std::string dir = make_merged_folder(scratch.path);
  kiln::pipelines::ModelDir md(dir);
  auto pair = md.open_merged_decoder(dir + "/decoder_model_merged.onnx");
  ASSERT_TRUE(pair.has_value());
  for (const auto& v : pair->no_past->inputs()) {
    EXPECT_NE(v.name, "use_cache_branch");
    EXPECT_EQ(v.name.rfind("past_key_values.", 0), std::string::npos) << v.name << " is read by the other branch only";
  }
  int in_place = 0;
  for (const auto& v : pair->with_past->outputs())
    if (v.name.find(".decoder.") != std::string::npos) {
      EXPECT_TRUE(v.time_major) << v.name;
      in_place += v.time_major;
    }
  EXPECT_GT(in_place, 0);
  for (const auto& v : pair->with_past->inputs()) EXPECT_NE(v.name, "use_cache_branch");
}
