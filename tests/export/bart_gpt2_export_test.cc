// Export of the generative architectures. BART and GPT-2 from the reference checkpoints
// (model.safetensors): the interface of the reference graphs, PyTorch's tensors for every graph
// (1e-4), ONNX Runtime on every exported graph, transformers' generate() ids through `kiln run` on
// the exported folders, libonnx's checker. mBART and Marian have no PyTorch reference here: they are
// exported with random weights and checked for their interface, shapes, the structure that sets
// them apart, ONNX Runtime parity, and the cache graph agreeing with the no-cache graph.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <tuple>

#include "export/decoder_parts.h"
#include "export/export.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"
#include "tied_table.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;

namespace {

std::vector<std::string> names(const std::vector<ValueInfo>& v) {
  std::vector<std::string> out;
  for (const auto& i : v) out.push_back(i.name);
  return out;
}

// Copies config.json and model.safetensors of a fixture into dir/src and exports it to dir/out.
fs::path export_fixture(const std::string& model, const fs::path& dir, const std::string& task,
                        ExportOptions o = {}) {
  fs::path src = dir / "src", out = dir / "out";
  fs::create_directories(src);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::fixture("models/" + model + "/" + f), src / f);
  o.task = task;
  export_model(src.string(), out.string(), o);
  return out;
}

// The graphs of each architecture and the reference case that drives each.
const std::vector<std::string> kSeq2Seq = {"encoder", "decoder", "decoder_with_past"};
const std::vector<std::string> kDecoderOnly = {"decoder", "decoder_with_past"};

NamedTensors ref(const std::string& model, const std::string& file) {
  return read_tensors_json(test::fixture("models/" + model + "/ref/" + file));
}

// Inputs, outputs and their order as in the graphs torch.onnx.export wrote; every output within
// 1e-4 of PyTorch's; libonnx's checker accepts the file (Debian's libonnx 1.12 knows opsets up to
// 17 and IR version 8: later graphs are checked by ONNX Runtime loading them, check_ort).
void check_against_pytorch(const std::string& model, const fs::path& out, const std::vector<std::string>& graphs) {
  for (const std::string& g : graphs) {
    SCOPED_TRACE(model + " " + g);
    const std::string file = (out / (g + "_model.onnx")).string();
    Model got = load_model(file);
    Model want = load_model(test::fixture("models/" + model + "/" + g + "_model.onnx"));
    EXPECT_EQ(names(got.graph.inputs), names(want.graph.inputs));
    EXPECT_EQ(names(got.graph.outputs), names(want.graph.outputs));
    if (got.opset("") <= 17) EXPECT_NO_THROW(test::onnx_check(file));
    NamedTensors outputs = Session(file).run(ref(model, g + "_inputs.json"));
    NamedTensors expected = ref(model, g + "_outputs.json");
    EXPECT_EQ(outputs.size(), expected.size());
    for (const auto& [name, t] : expected) {
      ASSERT_TRUE(outputs.count(name)) << name;
      EXPECT_LE(test::relative_error(outputs.at(name), t), 1e-4) << name;
    }
  }
}

// ONNX Runtime runs every exported graph on the reference inputs: its outputs equal kiln's and
// PyTorch's (1e-4).
void check_ort(const std::string& model, const fs::path& out, const std::vector<std::string>& graphs,
               const fs::path& scratch) {
  for (const std::string& g : graphs) {
    SCOPED_TRACE(model + " " + g);
    const std::string file = (out / (g + "_model.onnx")).string();
    NamedTensors feeds = ref(model, g + "_inputs.json");
    NamedTensors ort = test::run_ort(file, feeds, scratch.string());
    NamedTensors expected = ref(model, g + "_outputs.json");
    ASSERT_EQ(ort.size(), expected.size());
    for (const auto& [name, t] : expected) {
      ASSERT_TRUE(ort.count(name)) << name;
      EXPECT_LE(test::relative_error(ort.at(name), t), 1e-4) << name;
    }
    for (const auto& [name, err] : test::kiln_vs_ort(file, feeds, scratch.string())) EXPECT_LE(err, 1e-4) << name;
  }
}

// The acceptance check's command (shared/checks/check.js checkGeneration) on the exported folder:
// sequences[0] equal to generate()'s ids, beam scores within 1e-4.
void check_generation(const std::string& model, const fs::path& out, const std::string& task) {
  int cases = 0;
  for (std::string mode : {"greedy", "beam"}) {
    auto j = nlohmann::json::parse(read_file(test::fixture("models/" + model + "/ref/generate_" + mode + ".json")));
    const auto& kw = j["generate_kwargs"];
    std::string flags = " --max-new-tokens " + std::to_string(kw["max_new_tokens"].get<int>());
    if (kw["num_beams"].get<int>() > 1)
      flags += " --num-beams " + std::to_string(kw["num_beams"].get<int>()) + " --num-return-sequences " +
               std::to_string(kw["num_return_sequences"].get<int>()) + " --length-penalty " +
               std::to_string(kw["length_penalty"].get<double>());
    if (kw.value("early_stopping", false)) flags += " --early-stopping";
    const auto& t = j["tensors"];
    for (int i = 0; t.contains("input_ids." + std::to_string(i)); ++i) {
      SCOPED_TRACE(model + " " + mode + " #" + std::to_string(i));
      std::string ids;
      for (auto id : t["input_ids." + std::to_string(i)]["data"]) ids += (ids.empty() ? "" : ",") + id.dump();
      std::string log;
      int rc = test::run_command(test::kiln_binary() + " run " + out.string() + " --task " + task + " --input-ids " +
                                     ids + " --json" + flags + " 2>/dev/null",
                                 &log);
      ASSERT_EQ(rc, 0) << log;
      std::string last;
      std::istringstream lines(log);
      for (std::string l; std::getline(lines, l);)
        if (!l.empty()) last = l;
      auto res = nlohmann::json::parse(last);
      EXPECT_EQ(res["sequences"][0].get<std::vector<int64_t>>(),
                t["output_ids." + std::to_string(i)]["data"].get<std::vector<int64_t>>());
      if (t.contains("sequences_scores." + std::to_string(i))) {
        double want = t["sequences_scores." + std::to_string(i)]["data"][0].get<double>();
        EXPECT_NEAR(res["sequences_scores"][0].get<double>(), want, 1e-4 * std::max(1.0, std::abs(want)));
      }
      ++cases;
    }
  }
  EXPECT_EQ(cases, 6);  // three inputs per mode (the fixtures' README)
}

TEST(ExportGenerative, BartFromSafetensorsMatchesPyTorch) {
  test::ScratchDir d("kiln-export-bart");
  fs::path out = export_fixture("bart-tiny", d.path, "text2text-generation");
  for (const char* f : {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "config.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  check_against_pytorch("bart-tiny", out, kSeq2Seq);
  // The tied lm_head reads the decoder's token table: stored once per decoder graph.
  for (const char* g : {"decoder_model.onnx", "decoder_with_past_model.onnx"})
    test::expect_table_stored_once((out / g).string(), 1024, 64);
}

TEST(ExportGenerative, Gpt2FromSafetensorsMatchesPyTorch) {
  test::ScratchDir d("kiln-export-gpt2");
  fs::path out = export_fixture("gpt2-tiny", d.path, "text-generation");
  EXPECT_FALSE(fs::exists(out / "encoder_model.onnx"));
  check_against_pytorch("gpt2-tiny", out, kDecoderOnly);
  // The uint8 attn.bias buffer is not a parameter of the graphs: the causal mask comes from shapes.
  for (const auto& [name, t] : load_model((out / "decoder_model.onnx").string()).graph.initializers)
    EXPECT_NE(t.dtype(), DType::U8) << name;
  // The tied lm_head reads wte: stored once per graph.
  for (const char* g : {"decoder_model.onnx", "decoder_with_past_model.onnx"})
    test::expect_table_stored_once((out / g).string(), 1024, 64);
}

// Several new tokens after a cache (the references feed one): the causal mask must offset the
// queries by the past length. decoder_model on 6 tokens == decoder_model on 3 + decoder_with_past
// on the next 3, for the last 3 positions.
TEST(ExportGenerative, Gpt2SeveralTokensAfterTheCache) {
  test::ScratchDir d("kiln-export-gpt2-steps");
  fs::path out = export_fixture("gpt2-tiny", d.path, "text-generation");
  const std::vector<int64_t> ids = {5, 77, 1000, 3, 512, 9, 40, 41, 42, 43, 44, 45};  // batch 2 x 6
  auto slice = [&](int64_t from, int64_t n) {
    std::vector<int64_t> v;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t k = from; k < from + n; ++k) v.push_back(ids[r * 6 + k]);
    return Tensor::from_vector<int64_t>({2, n}, v);
  };
  auto ones = [](int64_t n) { return Tensor::from_vector<int64_t>({2, n}, std::vector<int64_t>(2 * n, 1)); };
  Session dec((out / "decoder_model.onnx").string());
  NamedTensors full = dec.run({{"input_ids", slice(0, 6)}, {"attention_mask", ones(6)}});
  NamedTensors first = dec.run({{"input_ids", slice(0, 3)}, {"attention_mask", ones(3)}});
  NamedTensors step = {{"input_ids", slice(3, 3)}, {"attention_mask", ones(6)}};
  for (const auto& [name, t] : first)
    if (name.rfind("present.", 0) == 0) step["past_key_values." + name.substr(8)] = t;
  NamedTensors next = Session((out / "decoder_with_past_model.onnx").string()).run(step);
  const int64_t V = 1024;
  Tensor tail(DType::F32, {2, 3, V});
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t k = 0; k < 3; ++k)
      std::copy_n(full.at("logits").data<float>() + (r * 6 + 3 + k) * V, V, tail.data<float>() + (r * 3 + k) * V);
  EXPECT_LE(test::relative_error(next.at("logits"), tail), 1e-5);
  EXPECT_LE(test::relative_error(next.at("present.1.key"), full.at("present.1.key")), 1e-5);
}

TEST(ExportGenerative, AutoTaskIsTheGenerationTask) {
  test::ScratchDir d("kiln-export-auto");
  fs::path out = export_fixture("gpt2-tiny", d.path, "auto");
  EXPECT_TRUE(fs::exists(out / "decoder_with_past_model.onnx"));
  fs::create_directories(d.path / "cls");
  ExportOptions o;
  o.task = "text-classification";
  EXPECT_THROW(export_model((d.path / "src").string(), (d.path / "cls" / "out").string(), o), Unsupported);
  EXPECT_FALSE(fs::exists(d.path / "cls" / "out"));
}

TEST(ExportGenerative, OnnxRuntimeRunsTheExportedGraphs) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir d("kiln-export-gen-ort");
  check_ort("bart-tiny", export_fixture("bart-tiny", d.path / "bart", "text2text-generation"), kSeq2Seq, d.path);
  check_ort("gpt2-tiny", export_fixture("gpt2-tiny", d.path / "gpt2", "text-generation"), kDecoderOnly, d.path);
}

TEST(ExportGenerative, ExportedFoldersGenerateTransformersIds) {
  ASSERT_TRUE(fs::exists(test::kiln_binary())) << "build the kiln binary first";
  test::ScratchDir d("kiln-export-gen-run");
  check_generation("bart-tiny", export_fixture("bart-tiny", d.path / "bart", "text2text-generation"),
                   "text2text-generation");
  check_generation("gpt2-tiny", export_fixture("gpt2-tiny", d.path / "gpt2", "text-generation"), "text-generation");
}

// --- the merged decoder (--merged) and later opsets ------------------------------------------------

// Feeds for one branch of decoder_model_merged.onnx, as kiln's generation loop gives them: the
// with-past case, or the first-step case with empty pasts (sequence length 0). Inputs only one
// branch reads (BART's encoder_hidden_states) come from the first-step case, whose encoder output
// the with-past case continues.
NamedTensors merged_feeds(const std::string& model, const Session& s, bool with_past) {
  NamedTensors first = ref(model, "decoder_inputs.json");
  NamedTensors f = with_past ? ref(model, "decoder_with_past_inputs.json") : first;
  const int64_t batch = f.at("input_ids").dim(0);
  for (const auto& v : s.inputs()) {
    if (f.count(v.name) || v.name == "use_cache_branch") continue;
    if (v.name.rfind("past_key_values.", 0) == 0) {
      const auto& dims = *v.shape;  // [batch, heads, seq, head_dim], heads and head_dim fixed
      f[v.name] = Tensor::zeros(DType::F32, {batch, *dims[1].value, 0, *dims[3].value});
    } else {
      f[v.name] = first.at(v.name);
    }
  }
  f["use_cache_branch"] = Tensor::from_vector<bool>({1}, {with_past});
  return f;
}

// What the merged graph gives: the first-step decoder's outputs, or the with-past ones plus the
// cross-attention presents passed through from the past.
NamedTensors merged_expected(const std::string& model, bool with_past) {
  if (!with_past) return ref(model, "decoder_outputs.json");
  NamedTensors want = ref(model, "decoder_with_past_outputs.json");
  for (const auto& [name, t] : ref(model, "decoder_with_past_inputs.json"))
    if (name.find(".encoder.") != std::string::npos) want["present." + name.substr(16)] = t;
  return want;
}

// --merged: both branches of decoder_model_merged.onnx give PyTorch's outputs in kiln and ONNX
// Runtime, libonnx's checker accepts it, and a folder holding only it (and BART's encoder)
// generates transformers' ids.
void check_merged(const std::string& model, const std::string& task, const fs::path& dir) {
  ExportOptions o;
  o.merged = true;
  fs::path out = export_fixture(model, dir, task, o);
  const std::string file = (out / "decoder_model_merged.onnx").string();
  EXPECT_NO_THROW(test::onnx_check(file));
  Session s(file);
  for (bool with_past : {false, true}) {
    SCOPED_TRACE(model + (with_past ? " merged, with past" : " merged, first step"));
    NamedTensors feeds = merged_feeds(model, s, with_past);
    NamedTensors got = s.run(feeds);
    NamedTensors want = merged_expected(model, with_past);
    for (const auto& [name, t] : want) {
      ASSERT_TRUE(got.count(name)) << name;
      EXPECT_LE(test::relative_error(got.at(name), t), 1e-4) << name;
    }
    if (!test::have_ort()) continue;
    NamedTensors ort = test::run_ort(file, feeds, dir.string());
    for (const auto& [name, t] : want) {
      ASSERT_TRUE(ort.count(name)) << name;
      EXPECT_LE(test::relative_error(ort.at(name), t), 1e-4) << "ONNX Runtime " << name;
    }
  }
  fs::remove(out / "decoder_model.onnx");
  fs::remove(out / "decoder_with_past_model.onnx");
  check_generation(model, out, task);
}

TEST(ExportGenerative, MergedDecoders) {
  test::ScratchDir d("kiln-export-gen-merged");
  check_merged("bart-tiny", "text2text-generation", d.path / "bart");
  check_merged("gpt2-tiny", "text-generation", d.path / "gpt2");
}

TEST(ExportGenerative, LaterOpsetsMatchPyTorch) {
  test::ScratchDir d("kiln-export-gen-opsets");
  for (int64_t opset : {18, 21}) {
    ExportOptions o;
    o.opset = opset;
    for (const auto& [model, task, graphs] :
         {std::tuple{std::string("bart-tiny"), std::string("text2text-generation"), kSeq2Seq},
          std::tuple{std::string("gpt2-tiny"), std::string("text-generation"), kDecoderOnly}}) {
      SCOPED_TRACE(model + " opset " + std::to_string(opset));
      fs::path out = export_fixture(model, d.path / (model + std::to_string(opset)), task, o);
      EXPECT_EQ(load_model((out / (graphs[0] + "_model.onnx")).string()).opset(""), opset);
      check_against_pytorch(model, out, graphs);
      if (test::have_ort()) check_ort(model, out, graphs, d.path);
    }
  }
}

// A copy of a fixture's model.safetensors with every tensor renamed by `rename` ("" drops it): the
// names other checkpoints use (tied aliases, a bare BartModel / GPT2Model without the prefix).
void write_renamed(const std::string& model, const fs::path& dst,
                   const std::function<std::string(std::string)>& rename) {
  std::string bytes = read_file(test::fixture("models/" + model + "/model.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  nlohmann::json renamed = nlohmann::json::object();
  for (auto& [name, entry] : header.items()) {
    std::string to = name == "__metadata__" ? name : rename(name);
    if (!to.empty()) renamed[to] = entry;
  }
  std::string h = renamed.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  uint64_t len = h.size();
  write_file_atomic(dst.string(), std::string(reinterpret_cast<const char*>(&len), 8) + h + bytes.substr(8 + n));
}

// Exports src (config.json + the renamed model.safetensors) and compares every graph with PyTorch.
void export_renamed(const std::string& model, const fs::path& dir, const std::string& task,
                    const std::vector<std::string>& graphs, const std::function<std::string(std::string)>& rename) {
  fs::create_directories(dir / "src");
  fs::copy_file(test::fixture("models/" + model + "/config.json"), dir / "src" / "config.json");
  write_renamed(model, dir / "src" / "model.safetensors", rename);
  ExportOptions o;
  o.task = task;
  export_model((dir / "src").string(), (dir / "out").string(), o);
  check_against_pytorch(model, dir / "out", graphs);
}

TEST(ExportGenerative, TiedParametersUnderTheirAliases) {
  test::ScratchDir d("kiln-export-alias");
  // The token table only as the encoder's and decoder's embed_tokens and lm_head (as
  // pytorch_model.bin holds them), each graph taking the first alias it finds.
  {
    SCOPED_TRACE("bart aliases");
    export_renamed("bart-tiny", d.path / "bart", "text2text-generation", kSeq2Seq,
                   [](std::string n) { return n == "model.shared.weight" ? std::string("lm_head.weight") : n; });
  }
  {
    SCOPED_TRACE("bart without the model. prefix");
    export_renamed("bart-tiny", d.path / "bare", "text2text-generation", kSeq2Seq,
                   [](std::string n) { return n.rfind("model.", 0) == 0 ? n.substr(6) : n; });
  }
  {
    SCOPED_TRACE("gpt2 without the transformer. prefix");
    export_renamed("gpt2-tiny", d.path / "gpt2", "text-generation", kDecoderOnly,
                   [](std::string n) { return n.rfind("transformer.", 0) == 0 ? n.substr(12) : n; });
  }
}

// --- mBART and Marian: random weights, no PyTorch reference ---------------------------------------

// bart-tiny's sizes, so that its reference inputs (ids < 1024, 4 heads of 16) drive the graphs.
nlohmann::json tiny_config(const std::string& model_type) {
  auto c = nlohmann::json::parse(read_file(test::fixture("models/bart-tiny/config.json")));
  c["model_type"] = model_type;
  if (model_type == "mbart") c["scale_embedding"] = true;
  if (model_type == "marian") {
    c["activation_function"] = "swish";
    c["scale_embedding"] = true;
    c["share_encoder_decoder_embeddings"] = false;
    c["decoder_vocab_size"] = 1000;  // separate target vocabulary: the logits are 1000 wide
  }
  return c;
}

fs::path export_random(const nlohmann::json& config, const fs::path& dir) {
  fs::create_directories(dir);
  write_file_atomic((dir / "config.json").string(), config.dump(2));
  ExportOptions o;
  o.random_weights = true;
  o.task = "text2text-generation";
  export_model((dir / "config.json").string(), (dir / "out").string(), o);
  return dir / "out";
}

// The same interface as bart-tiny's graphs, outputs of the expected shapes, ONNX Runtime's outputs,
// libonnx's checker, and the cache: decoder_with_past on the decoder's presents gives the logits the
// decoder gives for the same token at the end of the longer sequence.
void check_random_export(const std::string& model_type, const fs::path& out, int64_t logits_width,
                         const fs::path& scratch) {
  for (const std::string& g : kSeq2Seq) {
    SCOPED_TRACE(model_type + " " + g);
    const std::string file = (out / (g + "_model.onnx")).string();
    Model got = load_model(file);
    Model want = load_model(test::fixture("models/bart-tiny/" + g + "_model.onnx"));
    EXPECT_EQ(names(got.graph.inputs), names(want.graph.inputs));
    EXPECT_EQ(names(got.graph.outputs), names(want.graph.outputs));
    EXPECT_NO_THROW(test::onnx_check(file));
    NamedTensors feeds = ref("bart-tiny", g + "_inputs.json");
    NamedTensors outs = Session(file).run(feeds);
    for (const auto& [name, t] : ref("bart-tiny", g + "_outputs.json")) {
      ASSERT_TRUE(outs.count(name)) << name;
      Shape s = t.shape();
      if (name == "logits") s.back() = logits_width;
      EXPECT_EQ(outs.at(name).shape(), s) << name;
    }
    if (test::have_ort())
      for (const auto& [name, err] : test::kiln_vs_ort(file, feeds, scratch.string())) EXPECT_LE(err, 1e-4) << name;
  }

  // Encoder -> decoder on 4 tokens vs decoder on 3 tokens + decoder_with_past on the 4th.
  NamedTensors enc_in = ref("bart-tiny", "encoder_inputs.json");
  Tensor enc = Session((out / "encoder_model.onnx").string()).run(enc_in).at("last_hidden_state");
  const std::vector<int64_t> ids = {2, 0, 517, 33, 2, 0, 88, 901};  // batch 2 x 4 tokens
  auto tokens = [&](int64_t n, int64_t from) {
    std::vector<int64_t> v;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t k = from; k < from + n; ++k) v.push_back(ids[r * 4 + k]);
    return Tensor::from_vector<int64_t>({2, n}, v);
  };
  Session dec((out / "decoder_model.onnx").string());
  NamedTensors full = dec.run({{"input_ids", tokens(4, 0)},
                               {"encoder_attention_mask", enc_in.at("attention_mask")},
                               {"encoder_hidden_states", enc}});
  NamedTensors first = dec.run({{"input_ids", tokens(3, 0)},
                                {"encoder_attention_mask", enc_in.at("attention_mask")},
                                {"encoder_hidden_states", enc}});
  NamedTensors step = {{"input_ids", tokens(1, 3)}, {"encoder_attention_mask", enc_in.at("attention_mask")}};
  for (const auto& [name, t] : first)
    if (name.rfind("present.", 0) == 0) step["past_key_values." + name.substr(8)] = t;
  NamedTensors next = Session((out / "decoder_with_past_model.onnx").string()).run(step);
  const Tensor& lf = full.at("logits");
  const Tensor& ln = next.at("logits");
  ASSERT_EQ(ln.shape(), (Shape{2, 1, logits_width}));
  Tensor last(DType::F32, {2, 1, logits_width});
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t v = 0; v < logits_width; ++v)
      last.data<float>()[r * logits_width + v] = lf.data<float>()[(r * 4 + 3) * logits_width + v];
  EXPECT_LE(test::relative_error(ln, last), 1e-5);
  EXPECT_LE(test::relative_error(next.at("present.1.decoder.value"), full.at("present.1.decoder.value")), 1e-5);
}

TEST(ExportGenerative, MbartRandomWeightsPreNormAndFinalLayerNorms) {
  test::ScratchDir d("kiln-export-mbart");
  fs::path out = export_random(tiny_config("mbart"), d.path);
  check_random_export("mbart", out, 1024, d.path);
  // Pre-norm stacks end in a LayerNorm of their own.
  EXPECT_TRUE(
      load_model((out / "encoder_model.onnx").string()).graph.initializers.count("model.encoder.layer_norm.weight"));
  EXPECT_TRUE(
      load_model((out / "decoder_model.onnx").string()).graph.initializers.count("model.decoder.layer_norm.weight"));
}

TEST(ExportGenerative, MarianRandomWeightsSinusoidalPositionsSeparateVocabularies) {
  test::ScratchDir d("kiln-export-marian");
  fs::path out = export_random(tiny_config("marian"), d.path);
  check_random_export("marian", out, 1000, d.path);
  Model enc = load_model((out / "encoder_model.onnx").string());
  EXPECT_FALSE(enc.graph.initializers.count("model.encoder.layernorm_embedding.weight"));
  // transformers' MarianSinusoidalPositionalEmbedding: 128 rows (no offset); row p holds
  // sin(p / 10000^(2i/64)) in columns i < 32 and cos of the same angles in columns 32 + i.
  const Tensor& pos = enc.graph.initializers.at("model.encoder.embed_positions.weight");
  ASSERT_EQ(pos.shape(), (Shape{128, 64}));
  const float* p = pos.data<float>();
  EXPECT_EQ(p[0], 0.0f);
  EXPECT_EQ(p[32], 1.0f);
  EXPECT_NEAR(p[64 + 0], 0.841470985, 1e-7);   // sin(1)
  EXPECT_NEAR(p[64 + 32], 0.540302306, 1e-7);  // cos(1)
  EXPECT_NEAR(p[5 * 64 + 1], std::sin(5.0 / std::pow(10000.0, 2.0 / 64)), 1e-6);
  EXPECT_NEAR(p[5 * 64 + 33], std::cos(5.0 / std::pow(10000.0, 2.0 / 64)), 1e-6);
  // Encoder and decoder read separate token tables; the decoder's is 1000 rows.
  EXPECT_TRUE(enc.graph.initializers.count("model.encoder.embed_tokens.weight"));
  Model dec = load_model((out / "decoder_model.onnx").string());
  ASSERT_TRUE(dec.graph.initializers.count("model.decoder.embed_tokens.weight"));
  EXPECT_EQ(dec.graph.initializers.at("model.decoder.embed_tokens.weight").shape(), (Shape{1000, 64}));
}

// Each activation by transformers' name against its formula in transformers' activations.py, on
// values where the approximations differ from exact GELU by more than float rounding.
TEST(ExportGenerative, ActivationsAreTransformersFormulas) {
  const std::vector<float> xs = {-3.0f, -1.5f, -0.5f, 0.0f, 0.25f, 1.0f, 2.0f, 4.0f};
  const double pi = 3.14159265358979323846;
  std::map<std::string, std::function<double(double)>> formulas = {
      {"gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {"gelu_new",
       [&](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x))); }},
      {"gelu_pytorch_tanh",
       [&](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x))); }},
      {"gelu_fast", [](double x) { return 0.5 * x * (1 + std::tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))); }},
      {"quick_gelu", [](double x) { return x / (1 + std::exp(-1.702 * x)); }},
      {"silu", [](double x) { return x / (1 + std::exp(-x)); }},
      {"swish", [](double x) { return x / (1 + std::exp(-x)); }},
      {"relu", [](double x) { return std::max(x, 0.0); }},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"linear", [](double x) { return x; }},
  };
  for (const auto& [name, f] : formulas) {
    GraphBuilder b("act", 17);
    std::string x = b.input("x", DType::F32, {Dim{(int64_t)xs.size(), ""}});
    b.output(activation(b, x, name), "y", DType::F32, {Dim{(int64_t)xs.size(), ""}});
    Tensor y = Session(b.finish()).run({{"x", Tensor::from_vector<float>({(int64_t)xs.size()}, xs)}}).at("y");
    for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(y.data<float>()[i], f(xs[i]), 2e-6) << name << " at " << xs[i];
  }
  // gelu_new is not exact GELU: at x = 1 they differ by 1.5e-4, far above the tolerance above.
  EXPECT_GT(std::fabs(formulas["gelu_new"](1.0) - formulas["gelu"](1.0)), 1e-4);
  EXPECT_THROW(check_activation("gelu_10", "config.json"), Unsupported);
}

TEST(ExportGenerative, RefusesWhatItCannotExport) {
  test::ScratchDir d("kiln-export-refuse");
  auto c = tiny_config("bart");
  c["activation_function"] = "no-such-activation";
  EXPECT_THROW(export_random(c, d.path / "act"), Unsupported);
  EXPECT_FALSE(fs::exists(d.path / "act" / "out"));
  c = tiny_config("bart");
  c["d_model"] = 66;  // not a multiple of 4 heads
  EXPECT_THROW(export_random(c, d.path / "dim"), BadModel);
  // A checkpoint that lacks a parameter: the error names it.
  fs::create_directories(d.path / "gpt2");
  fs::copy_file(test::fixture("models/gpt2-tiny/config.json"), d.path / "gpt2" / "config.json");
  fs::copy_file(test::fixture("models/bart-tiny/model.safetensors"), d.path / "gpt2" / "model.safetensors");
  try {
    export_model((d.path / "gpt2").string(), (d.path / "gpt2-out").string(), {});
    ADD_FAILURE() << "exported GPT-2 from BART's weights";
  } catch (const BadModel& e) {
    EXPECT_NE(std::string(e.what()).find("transformer.wte.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(d.path / "gpt2-out"));
}

}  // namespace
