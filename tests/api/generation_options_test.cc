// kiln::GenerationOptions: one layer of generation settings, set from strings, read from config
// files as transformers reads them, merged, and layered in a pipeline (defaults < config.json <
// generation_config.json < task_specific_params < PipelineOptions < the call).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kiln/error.h"
#include "kiln/pipeline.h"
#include "test_util.h"

namespace fs = std::filesystem;
using kiln::GenerationOptions;

TEST(GenerationOptions, SetByTransformersNamesAndFlags) {
  GenerationOptions g;
  g.set("max_new_tokens", "12");
  g.set("--num-beams", "4");
  g.set("do_sample", "true");
  g.set("temperature", "0.7");
  g.set("eos_token_ids", "1, 2");
  g.set("bad_words_ids", "5,6;7");
  g.set("seed", "42");
  g.set("use-cache", "0");
  EXPECT_EQ(g.max_new_tokens, 12);
  EXPECT_EQ(g.num_beams, 4);
  EXPECT_EQ(g.do_sample, true);
  EXPECT_FLOAT_EQ(*g.temperature, 0.7f);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(g.bad_words_ids, (std::vector<std::vector<int64_t>>{{5, 6}, {7}}));
  EXPECT_EQ(g.seed, 42u);
  EXPECT_EQ(g.use_cache, false);
  EXPECT_FALSE(g.max_length.has_value());
}

TEST(GenerationOptions, EveryNameIsSettable) {
  const auto& names = GenerationOptions::names();
  EXPECT_EQ(names.size(), 23u);
  for (const auto& n : names) {
    GenerationOptions g;
    std::string value = n == "do_sample" || n == "early_stopping" || n == "use_cache" ? "true" : "3";
    EXPECT_NO_THROW(g.set(n, value)) << n;
  }
}

TEST(GenerationOptions, BadNamesAndValuesSayWhat) {
  GenerationOptions g;
  EXPECT_THROW(g.set("num_beam", "2"), kiln::BadInput);
  EXPECT_THROW(g.set("num_beams", "two"), kiln::BadInput);
  EXPECT_THROW(g.set("num_beams", "2x"), kiln::BadInput);
  EXPECT_THROW(g.set("do_sample", "maybe"), kiln::BadInput);
  EXPECT_THROW(g.set("seed", "-1"), kiln::BadInput);
  EXPECT_THROW(g.set("bad_words_ids", ";"), kiln::BadInput);
  try {
    g.set("temperature", "hot");
    FAIL() << "no error";
  } catch (const kiln::BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos) << e.what();
  }
}

TEST(GenerationOptions, FromJsonAsTransformersReadsConfigs) {
  GenerationOptions g = GenerationOptions::from_json(R"({
    "max_length": 200, "num_beams": 4, "early_stopping": "never", "eos_token_id": [1, 2],
    "forced_bos_token_id": [0], "pad_token_id": null, "bos_token_id": 0, "no_repeat_ngram_size": 3,
    "length_penalty": 2.0, "vocab_size": 50265, "bad_words_ids": [[5, 6]]})");
  EXPECT_EQ(g.max_length, 200);
  EXPECT_EQ(g.num_beams, 4);
  EXPECT_EQ(g.early_stopping, false);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(g.forced_bos_token_id, 0);
  EXPECT_FALSE(g.pad_token_id.has_value());
  EXPECT_EQ(g.bos_token_id, 0);
  EXPECT_EQ(g.no_repeat_ngram_size, 3);
  EXPECT_FLOAT_EQ(*g.length_penalty, 2.0f);
  EXPECT_EQ(g.bad_words_ids, (std::vector<std::vector<int64_t>>{{5, 6}}));
  EXPECT_EQ(GenerationOptions::from_json(R"({"eos_token_id": 2})").eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_THROW(GenerationOptions::from_json(R"({"num_beams": "four"})"), kiln::BadModel);
  EXPECT_THROW(GenerationOptions::from_json("[1, 2]"), kiln::BadModel);
  EXPECT_THROW(GenerationOptions::from_json("{"), kiln::BadModel);
}

TEST(GenerationOptions, MergeLaterWins) {
  GenerationOptions model = GenerationOptions::from_json(R"({"max_new_tokens": 50, "num_beams": 4, "top_k": 10})");
  GenerationOptions call;
  call.max_length = 20;
  call.num_beams = 1;
  model.merge(call);
  EXPECT_EQ(model.max_length, 20);
  EXPECT_FALSE(model.max_new_tokens.has_value()) << "a later max_length unsets max_new_tokens";
  EXPECT_EQ(model.num_beams, 1);
  EXPECT_EQ(model.top_k, 10) << "fields the later layer leaves unset stay";
  kiln::GenerationConfig c;
  model.apply_to(c);
  EXPECT_EQ(c.max_length, 20);
  EXPECT_EQ(c.num_beams, 1);
  EXPECT_EQ(c.top_k, 10);
  EXPECT_EQ(c.temperature, 1.0f) << "transformers' default";
}

TEST(GenerationOptions, PipelineLayersConfigGenerationConfigTaskParamsAndCaller) {
  // bart-tiny's config.json says eos 2 and forced_eos 2 and nothing of max_length (default 20).
  kiln::test::ScratchDir d("kiln-genlayers");
  const fs::path src = kiln::test::fixture("models/bart-tiny");
  for (const char* f : {"config.json", "encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"})
    fs::copy_file(src / f, d.path / f);
  auto open = [&](const kiln::PipelineOptions& o, const std::string& task = "text2text-generation") {
    return kiln::pipeline(task, d.path.string(), o);
  };
  kiln::PipelineOptions o;
  o.threads = 1;
  EXPECT_EQ(open(o)->generation_config()->max_length, 20);
  EXPECT_EQ(open(o)->generation_config()->eos_token_ids, (std::vector<int64_t>{2}));

  std::ofstream(d.path / "generation_config.json") << R"({"max_length": 7, "num_beams": 2, "eos_token_id": [2, 3]})";
  auto p = open(o);
  EXPECT_EQ(p->generation_config()->max_length, 7);
  EXPECT_EQ(p->generation_config()->num_beams, 2);
  EXPECT_EQ(p->generation_config()->eos_token_ids, (std::vector<int64_t>{2, 3}));

  o.generation.set("num_beams", "1");
  o.generation.set("max_new_tokens", "3");
  p = open(o);
  EXPECT_EQ(p->generation_config()->num_beams, 1);
  EXPECT_EQ(p->generation_config()->max_new_tokens, 3);
  EXPECT_EQ(p->generation_config()->max_length, 7);
  auto out = p->generate({kiln::PipelineInput::from_ids({0, 100, 2})});
  EXPECT_LE(out[0].sequences.at(0).size(), 4u) << "decoder start + at most 3 new tokens";
}
