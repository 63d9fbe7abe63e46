// Text in, text out with the real bert-base-uncased and t5-small tokenizers (../shared/data/tokenizers):
// - text-classification and text2text-generation on the *-tiny-vocab fixtures against their
//   transformers references (ref/e2e_expected.jsonl), one by one and in padded batches;
// - token-classification, question-answering, feature-extraction and fill-mask on small graphs built
//   here whose outputs are table look-ups of the input ids, so every expected answer follows by hand
//   from the vocabulary (vocab.txt line = id + 1) and the task's post-processing rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "graph/onnx_io.h"
#include "pipelines/pipeline.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

namespace fs = std::filesystem;
using kiln::test::fixture;
using kiln::test::shared_path;
using nlohmann::json;

namespace {

// A scratch model folder: the files of `model` (if any) plus the tokenizer files of `tok`.
std::string folder(const std::string& name, const std::string& model, const std::string& tok) {
  fs::path d = fs::temp_directory_path() / ("kiln-e2e-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  if (!model.empty())
    for (auto& e : fs::directory_iterator(fixture("models/" + model)))
      if (e.is_regular_file() && e.path().filename() != "tokenizer.txt") fs::copy_file(e.path(), d / e.path().filename());
  for (auto& e : fs::directory_iterator(shared_path("data/tokenizers/" + tok)))
    if (e.path().filename() != "expected.jsonl") fs::copy_file(e.path(), d / e.path().filename());
  return d.string();
}

std::vector<std::string> lines(const std::string& path) {
  std::string all = kiln::read_file(path), cur;
  std::vector<std::string> out;
  size_t s = 0;
  while (s < all.size()) {
    size_t n = all.find('\n', s);
    if (n == std::string::npos) n = all.size();
    out.push_back(all.substr(s, n - s));
    s = n + 1;
  }
  return out;
}

// model.onnx whose outputs are Gather(table, input_ids) (and, for `matmul`, that times `matmul`).
void lookup_model(const std::string& dir, const std::vector<std::pair<std::string, kiln::Tensor>>& outputs,
                  const kiln::Tensor& matmul = {}) {
  kiln::Model m;
  m.set_opset("", 13);
  kiln::ValueInfo in{"input_ids", kiln::DType::I64, std::vector<kiln::Dim>{{std::nullopt, "batch"}, {std::nullopt, "seq"}}};
  m.graph.inputs.push_back(in);
  for (auto& [name, table] : outputs) {
    m.graph.initializers[name + "_table"] = table;
    std::string g = matmul.defined() ? name + "_rows" : name;
    m.graph.nodes.push_back({name + "_gather", "Gather", "", {name + "_table", "input_ids"}, {g}, {}, ""});
    if (matmul.defined()) {
      m.graph.initializers[name + "_w"] = matmul;
      m.graph.nodes.push_back({name + "_matmul", "MatMul", "", {g, name + "_w"}, {name}, {}, ""});
    }
    m.graph.outputs.push_back({name, kiln::DType::F32, std::nullopt});
  }
  kiln::save_model(m, dir + "/model.onnx");
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool have_tokenizers() { return !shared_path("data/tokenizers/bert-base-uncased").empty(); }

constexpr int64_t kVocab = 30522;
// bert-base-uncased ids (vocab.txt line - 1)
constexpr int64_t kNew = 2047, kCity = 2103, kYork = 2259, kParis = 3000, kCapital = 3007, kTo = 2000, kMask = 103;

}  // namespace

TEST(EndToEnd, TextClassificationMatchesTransformers) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("cls", "distilbert-tiny-vocab", "bert-base-uncased");
  auto texts = lines(fixture("models/distilbert-tiny-vocab/ref/e2e_inputs.txt"));
  auto want = lines(fixture("models/distilbert-tiny-vocab/ref/e2e_expected.jsonl"));
  ASSERT_EQ(texts.size(), 24u);  // the reference's 24 lines (see the fixtures' README)
  ASSERT_EQ(want.size(), texts.size());
  // Token ids: the reference's (JS tokenizers, truncated to 128 as transformers does), exactly.
  auto tok = kiln::Tokenizer::from_dir(dir);
  for (size_t i = 0; i < texts.size(); ++i) {
    json w = json::parse(want[i]);
    kiln::Encoding e = tok->encode(texts[i]);
    tok->truncate(e, kiln::TruncationOptions{128}, false);
    EXPECT_EQ(e.ids, w["input_ids"].get<std::vector<int64_t>>()) << "line " << i + 1;
  }
  const std::vector<std::string> id2label = {"negative", "neutral", "positive"};  // the fixture's config.json
  for (size_t batch : {1, 5}) {
    kiln::PipelineOptions o;
    o.threads = 1, o.batch_size = batch, o.truncation = true, o.max_length = 128;
    const std::vector<kiln::PipelineInput> in(texts.begin(), texts.end());
    auto res = kiln::pipelines::json_pipeline("text-classification", dir, o)->run(in);
    // The raw logits: every label's score with no function applied.
    o.function_to_apply = "none", o.top_k = 0;
    auto raw = kiln::pipelines::json_pipeline("text-classification", dir, o)->run(in);
    ASSERT_EQ(res.size(), texts.size());
    ASSERT_EQ(raw.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      json w = json::parse(want[i]);
      EXPECT_EQ(res[i]["label"], w["label"]) << "line " << i + 1 << " batch " << batch;
      EXPECT_NEAR(res[i]["score"].get<double>(), w["score"].get<double>(), 1e-4) << "line " << i + 1;
      // logits within 1e-4 of max |logit| (the fixtures' tolerance rule)
      std::vector<double> ref = w["logits"].get<std::vector<double>>();
      ASSERT_EQ(ref.size(), id2label.size());
      ASSERT_EQ(raw[i]["scores"].size(), ref.size()) << raw[i].dump();
      double scale = 1e-6;
      for (double v : ref) scale = std::max(scale, std::abs(v));
      for (const auto& s : raw[i]["scores"]) {
        size_t k = std::find(id2label.begin(), id2label.end(), s["label"].get<std::string>()) - id2label.begin();
        ASSERT_LT(k, ref.size()) << s.dump();
        EXPECT_LE(std::abs(s["score"].get<double>() - ref[k]), 1e-4 * scale)
            << "line " << i + 1 << " batch " << batch << " logit " << id2label[k];
      }
    }
  }
}

TEST(EndToEnd, Text2TextMatchesTransformers) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("t2t", "t5-tiny-vocab", "t5-small");
  auto texts = lines(fixture("models/t5-tiny-vocab/ref/e2e_inputs.txt"));
  auto want = lines(fixture("models/t5-tiny-vocab/ref/e2e_expected.jsonl"));
  ASSERT_EQ(texts.size(), 24u);
  ASSERT_EQ(want.size(), texts.size());
  // Encoder input ids: the reference's (JS tokenizers, </s> appended), exactly.
  auto tok = kiln::Tokenizer::from_dir(dir);
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(tok->encode(texts[i]).ids, json::parse(want[i])["input_ids"].get<std::vector<int64_t>>()) << "line " << i + 1;
  for (size_t batch : {1, 4}) {
    kiln::PipelineOptions o;
    o.threads = 1, o.batch_size = batch;
    o.generation.max_new_tokens = 16;
    auto res = kiln::pipelines::json_pipeline("text2text-generation", dir, o)->run(std::vector<kiln::PipelineInput>(texts.begin(), texts.end()));
    ASSERT_EQ(res.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      json w = json::parse(want[i]);
      EXPECT_EQ(res[i]["sequences"][0], w["output_ids"]) << "line " << i + 1 << " batch " << batch;
      EXPECT_EQ(res[i]["generated_text"], w["generated_text"]) << "line " << i + 1;
    }
  }
}

TEST(EndToEnd, TokenClassificationGroupsEntitiesWithCharacterOffsets) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("ner", "", "bert-base-uncased");
  kiln::Tensor t(kiln::DType::F32, {kVocab, 3});
  float* p = t.data<float>();
  for (int64_t v = 0; v < kVocab; ++v) p[v * 3] = 3, p[v * 3 + 1] = 0, p[v * 3 + 2] = 0;  // O
  for (int64_t v : {kNew}) p[v * 3] = 0, p[v * 3 + 1] = 3;                                 // B-LOC
  for (int64_t v : {kYork, kCity}) p[v * 3] = 0, p[v * 3 + 2] = 3;                          // I-LOC
  lookup_model(dir, {{"logits", t}});
  write(dir + "/config.json", R"({"model_type": "bert", "id2label": {"0": "O", "1": "B-LOC", "2": "I-LOC"}})");
  const double top = std::exp(3.0) / (std::exp(3.0) + 2.0);  // softmax of (3, 0, 0)
  const std::string text = "I live in New York City.";
  kiln::PipelineOptions o;
  o.threads = 1;
  auto none = kiln::pipelines::json_pipeline("token-classification", dir, o)->run({kiln::PipelineInput(text)})[0]["entities"];
  ASSERT_EQ(none.size(), 3u) << none.dump();
  // [CLS] i live in new york city . [SEP]: "new" is token 4, at characters 10..13.
  EXPECT_EQ(none[0]["entity"], "B-LOC");
  EXPECT_EQ(none[0]["index"], 4);
  EXPECT_EQ(none[0]["start"], 10);
  EXPECT_EQ(none[0]["end"], 13);
  EXPECT_EQ(none[2]["entity"], "I-LOC");
  EXPECT_EQ(none[2]["start"], 19);
  EXPECT_EQ(none[2]["end"], 23);
  EXPECT_NEAR(none[1]["score"].get<double>(), top, 1e-5);
  o.aggregation_strategy = "simple";
  auto simple = kiln::pipelines::json_pipeline("token-classification", dir, o)->run({kiln::PipelineInput(text)})[0]["entities"];
  ASSERT_EQ(simple.size(), 1u) << simple.dump();
  EXPECT_EQ(simple[0]["entity_group"], "LOC");
  EXPECT_EQ(simple[0]["word"], "new york city");
  EXPECT_EQ(simple[0]["start"], 10);
  EXPECT_EQ(simple[0]["end"], 23);
  EXPECT_NEAR(simple[0]["score"].get<double>(), top, 1e-5);
}

TEST(EndToEnd, QuestionAnsweringFindsTheSpanInTheContext) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("qa", "", "bert-base-uncased");
  kiln::Tensor s = kiln::Tensor::zeros(kiln::DType::F32, {kVocab}), e = kiln::Tensor::zeros(kiln::DType::F32, {kVocab});
  s.data<float>()[kParis] = 8;
  e.data<float>()[kParis] = 8;
  lookup_model(dir, {{"start_logits", s}, {"end_logits", e}});
  write(dir + "/config.json", R"({"model_type": "bert"})");
  kiln::PipelineInput in("Where is the Eiffel Tower?");
  in.text_pair = "The Eiffel Tower is in Paris.";
  kiln::PipelineOptions o;
  o.threads = 1;
  json r = kiln::pipelines::json_pipeline("question-answering", dir, o)->run({in})[0];
  EXPECT_EQ(r["answer"], "Paris");
  EXPECT_EQ(r["start"], 23);
  EXPECT_EQ(r["end"], 28);
  // Softmax over [CLS] and the context tokens (at most 10 here), logit 8 on "paris" and 0 elsewhere:
  // each of start and end is at least e^8 / (e^8 + 10).
  const double p = std::exp(8.0) / (std::exp(8.0) + 10.0);
  EXPECT_GE(r["score"].get<double>(), p * p);
  EXPECT_LE(r["score"].get<double>(), 1.0);
}

TEST(EndToEnd, FeatureExtractionTokensMeanAndCls) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("fe", "", "bert-base-uncased");
  kiln::Tensor t(kiln::DType::F32, {kVocab, 2});
  for (int64_t v = 0; v < kVocab; ++v) t.data<float>()[v * 2] = (float)v, t.data<float>()[v * 2 + 1] = 1;
  lookup_model(dir, {{"last_hidden_state", t}});
  write(dir + "/config.json", R"({"model_type": "bert"})");
  kiln::PipelineOptions o;
  o.threads = 1;
  // "new york" -> [CLS] 101, 2047, 2259, [SEP] 102
  auto tokens = kiln::pipelines::json_pipeline("feature-extraction", dir, o)->run({kiln::PipelineInput("New York")})[0]["embeddings"];
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[1][0].get<double>(), (double)kNew);
  o.pooling = "mean";
  auto mean = kiln::pipelines::json_pipeline("feature-extraction", dir, o)->run({kiln::PipelineInput("New York")})[0]["embedding"];
  EXPECT_NEAR(mean[0].get<double>(), (101.0 + kNew + kYork + 102.0) / 4, 1e-3);
  o.pooling = "cls";
  o.normalize = true;
  auto cls = kiln::pipelines::json_pipeline("feature-extraction", dir, o)->run({kiln::PipelineInput("New York")})[0]["embedding"];
  EXPECT_NEAR(cls[0].get<double>(), 101.0 / std::sqrt(101.0 * 101.0 + 1.0), 1e-6);
}

TEST(EndToEnd, FillMaskRanksTheCandidates) {
  KILN_REQUIRE(have_tokenizers(), "../shared/data/tokenizers");
  std::string dir = folder("fm", "", "bert-base-uncased");
  kiln::Tensor rows = kiln::Tensor::zeros(kiln::DType::F32, {kVocab, 2});
  rows.data<float>()[kMask * 2] = 1;  // only the mask position sees row 0 of w
  kiln::Tensor w = kiln::Tensor::zeros(kiln::DType::F32, {2, kVocab});
  w.data<float>()[kCapital] = 5, w.data<float>()[kParis] = 4, w.data<float>()[kTo] = 3;
  lookup_model(dir, {{"logits", rows}}, w);
  write(dir + "/config.json", R"({"model_type": "bert"})");
  kiln::PipelineOptions o;
  o.threads = 1;
  o.top_k = 3;
  auto r = kiln::pipelines::json_pipeline("fill-mask", dir, o)->run({kiln::PipelineInput("Paris is the [MASK] of France.")})[0]["predictions"];
  ASSERT_EQ(r.size(), 3u);
  const double z = std::exp(5.0) + std::exp(4.0) + std::exp(3.0) + (kVocab - 3);
  EXPECT_EQ(r[0]["token"], kCapital);
  EXPECT_EQ(r[0]["token_str"], "capital");
  EXPECT_EQ(r[0]["sequence"], "paris is the capital of france.");
  EXPECT_NEAR(r[0]["score"].get<double>(), std::exp(5.0) / z, 1e-5);
  EXPECT_EQ(r[1]["token"], kParis);
  EXPECT_EQ(r[2]["token_str"], "to");
}
