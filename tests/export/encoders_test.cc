// The BERT-like encoders (bert, roberta, xlm-roberta, camembert, electra, albert, distilbert) in
// every task: bert-tiny from its checkpoint against PyTorch's logits; every architecture x task
// with random weights accepted by onnx's checker and computing what ONNX Runtime computes; opsets
// 13 (no LayerNormalization op) and 21; weights shared or tied stored once.
#include <gtest/gtest.h>

#include <filesystem>

#include "export/export.h"
#include "export/safetensors.h"
#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;
using nlohmann::json;

namespace {

// A small config of each architecture, in the field names its transformers class reads.
json tiny_config(const std::string& model_type) {
  json c = {{"model_type", model_type}, {"vocab_size", 120}, {"max_position_embeddings", 40},
            {"initializer_range", 0.2}, {"num_labels", 3}};
  if (model_type == "distilbert") {
    c.update({{"dim", 32}, {"n_heads", 4}, {"hidden_dim", 64}, {"n_layers", 2}, {"activation", "gelu"}});
    return c;
  }
  c.update({{"hidden_size", 32}, {"num_attention_heads", 4}, {"intermediate_size", 64}, {"num_hidden_layers", 2},
            {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-12}, {"type_vocab_size", 2}, {"pad_token_id", 0}});
  if (model_type == "roberta" || model_type == "xlm-roberta" || model_type == "camembert")
    c.update({{"pad_token_id", 1}, {"type_vocab_size", 1}, {"layer_norm_eps", 1e-5}});
  if (model_type == "electra") c["embedding_size"] = 16;
  if (model_type == "albert")
    c.update({{"embedding_size", 16}, {"hidden_act", "gelu_new"}, {"num_hidden_layers", 4}, {"num_hidden_groups", 2},
              {"inner_group_num", 2}});
  return c;
}

bool has_token_types(const std::string& model_type) {
  return model_type == "bert" || model_type == "electra" || model_type == "albert";
}

// Batch 2 x 7, the second row right-padded (pad id 1 for the RoBERTa family, 0 for the others).
NamedTensors feeds_for(const std::string& model_type) {
  int64_t pad = (model_type == "roberta" || model_type == "xlm-roberta" || model_type == "camembert") ? 1 : 0;
  NamedTensors f;
  f["input_ids"] = Tensor::from_vector<int64_t>({2, 7}, {5, 17, 42, 99, 3, 64, 8, 5, 77, 12, 31, pad, pad, pad});
  f["attention_mask"] = Tensor::from_vector<int64_t>({2, 7}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  if (has_token_types(model_type))
    f["token_type_ids"] = Tensor::from_vector<int64_t>({2, 7}, {0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0});
  return f;
}

fs::path write_config(const fs::path& dir, const json& c) {
  fs::create_directories(dir);
  write_file_atomic((dir / "config.json").string(), c.dump(2));
  return dir / "config.json";
}

ExportOptions random_options(const std::string& task, int64_t opset = 17) {
  ExportOptions o;
  o.task = task;
  o.opset = opset;
  o.random_weights = true;
  return o;
}

// Output names and shapes Optimum gives each task for batch 2 x 7.
std::map<std::string, Shape> expected_outputs(const std::string& task, const json& c) {
  int64_t hidden = c.value("hidden_size", c.value("dim", (int64_t)0));
  if (task == "feature-extraction") return {{"last_hidden_state", {2, 7, hidden}}};
  if (task == "text-classification") return {{"logits", {2, 3}}};
  if (task == "token-classification") return {{"logits", {2, 7, 3}}};
  if (task == "question-answering") return {{"start_logits", {2, 7}}, {"end_logits", {2, 7}}};
  return {{"logits", {2, 7, c["vocab_size"].get<int64_t>()}}};  // fill-mask
}

TEST(ExportEncoders, BertTinyFromSafetensorsMatchesPyTorch) {
  test::ScratchDir d("kiln-export-enc");
  fs::create_directories(d.path / "src");
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::fixture(std::string("models/bert-tiny/") + f), d.path / "src" / f);
  ExportResult r = export_model((d.path / "src").string(), (d.path / "out").string(), {});
  EXPECT_EQ(r.task, "text-classification");  // from BertForSequenceClassification
  std::string model = (d.path / "out" / "model.onnx").string();
  test::onnx_check(model);
  Session s(model);
  ASSERT_EQ(s.inputs().size(), 3u);
  EXPECT_EQ(s.inputs()[2].name, "token_type_ids");
  for (std::string c : {"case0", "case1"}) {
    SCOPED_TRACE(c);
    auto feeds = read_tensors_json(test::fixture("models/bert-tiny/ref/" + c + "_inputs.json"));
    auto ref = read_tensors_json(test::fixture("models/bert-tiny/ref/" + c + "_outputs.json"));
    EXPECT_LE(test::relative_error(s.run(feeds).at("logits"), ref.at("logits")), 1e-4);
    if (test::have_ort())
      EXPECT_LE(test::relative_error(test::run_ort(model, feeds, d.path.string()).at("logits"), ref.at("logits")),
                1e-4);
  }
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
}

// A float32 safetensors file of `tensors` (header, then the data in the header's order).
void write_safetensors(const fs::path& path, const std::map<std::string, Tensor>& tensors) {
  json header = json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    Tensor f = t.dtype() == DType::F32 ? t : t.cast(DType::F32);
    size_t begin = data.size();
    data.append(static_cast<const char*>(f.raw()), (size_t)f.numel() * sizeof(float));
    header[name] = {{"dtype", "F32"}, {"shape", f.shape()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  uint64_t n = h.size();
  write_file_atomic(path.string(), std::string(reinterpret_cast<const char*>(&n), 8) + h + data);
}

// Checkpoints converted from TensorFlow name LayerNorm parameters gamma/beta (transformers renames
// them on load): bert-tiny with its LayerNorms renamed so still gives PyTorch's logits.
TEST(ExportEncoders, LayerNormGammaBetaNamesLoad) {
  test::ScratchDir d("kiln-export-enc");
  fs::create_directories(d.path / "src");
  fs::copy_file(test::fixture("models/bert-tiny/config.json"), d.path / "src" / "config.json");
  std::map<std::string, Tensor> renamed;
  int n = 0;
  for (auto& [name, t] : read_safetensors(test::fixture("models/bert-tiny/model.safetensors")).tensors) {
    std::string k = name;
    if (k.find("LayerNorm.weight") != std::string::npos) k.replace(k.rfind("weight"), 6, "gamma"), ++n;
    if (k.find("LayerNorm.bias") != std::string::npos) k.replace(k.rfind("bias"), 4, "beta"), ++n;
    renamed[k] = t;
  }
  EXPECT_EQ(n, 2 * (1 + 2 * 2));
  write_safetensors(d.path / "src" / "model.safetensors", renamed);
  export_model((d.path / "src").string(), (d.path / "out").string(), {});
  auto feeds = read_tensors_json(test::fixture("models/bert-tiny/ref/case0_inputs.json"));
  auto ref = read_tensors_json(test::fixture("models/bert-tiny/ref/case0_outputs.json"));
  EXPECT_LE(test::relative_error(Session((d.path / "out" / "model.onnx").string()).run(feeds).at("logits"),
                                 ref.at("logits")),
            1e-4);
}

// Opset 13 has no LayerNormalization: the decomposed form is written, and both opset 13 and 21
// give PyTorch's logits in kiln and in ONNX Runtime.
TEST(ExportEncoders, BertTinyAtOpsets13And21) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir d("kiln-export-enc");
  fs::create_directories(d.path / "src");
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::fixture(std::string("models/bert-tiny/") + f), d.path / "src" / f);
  for (int64_t opset : {13, 21}) {
    SCOPED_TRACE(opset);
    ExportOptions o;
    o.opset = opset;
    fs::path out = d.path / ("o" + std::to_string(opset));
    export_model((d.path / "src").string(), out.string(), o);
    std::string model = (out / "model.onnx").string();
    Model m = load_model(model);
    EXPECT_EQ(m.opset(""), opset);
    int layer_norms = 0, reduce_means = 0;
    for (const Node& n : m.graph.nodes) {
      layer_norms += n.op_type == "LayerNormalization";
      reduce_means += n.op_type == "ReduceMean";
    }
    if (opset == 13) {
      EXPECT_EQ(layer_norms, 0);
      EXPECT_EQ(reduce_means, 2 * (1 + 2 * 2));  // embeddings + two per layer, two ReduceMeans each
      test::onnx_check(model);                  // Debian's libonnx knows opsets up to 17
    } else {
      EXPECT_EQ(layer_norms, 1 + 2 * 2);
    }
    for (std::string c : {"case0", "case1"}) {
      auto feeds = read_tensors_json(test::fixture("models/bert-tiny/ref/" + c + "_inputs.json"));
      auto ref = read_tensors_json(test::fixture("models/bert-tiny/ref/" + c + "_outputs.json"));
      EXPECT_LE(test::relative_error(test::run_ort(model, feeds, d.path.string()).at("logits"), ref.at("logits")),
                1e-4)
          << c;
      EXPECT_LE(test::relative_error(Session(model).run(feeds).at("logits"), ref.at("logits")), 1e-4) << c;
    }
  }
}

TEST(ExportEncoders, EveryArchitectureAndTaskRunsLikeOnnxRuntime) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir d("kiln-export-enc");
  const std::vector<std::string> archs = {"bert", "roberta", "xlm-roberta", "camembert",
                                          "electra", "albert", "distilbert"};
  int exported = 0;
  for (const std::string& arch : archs) {
    EXPECT_EQ(architecture_tasks(arch), (std::vector<std::string>{"feature-extraction", "text-classification",
                                                                  "token-classification", "question-answering",
                                                                  "fill-mask"}))
        << arch;
    json c = tiny_config(arch);
    fs::path config = write_config(d.path / arch, c);
    for (const std::string& task : architecture_tasks(arch)) {
      SCOPED_TRACE(arch + " " + task);
      fs::path out = d.path / (arch + "-" + task);
      ExportResult r = export_model(config.string(), out.string(), random_options(task));
      EXPECT_EQ(r.task, task);
      std::string model = (out / "model.onnx").string();
      test::onnx_check(model);
      Session s(model);
      std::vector<std::string> inputs;
      for (const auto& v : s.inputs()) inputs.push_back(v.name);
      EXPECT_EQ(inputs, has_token_types(arch)
                            ? (std::vector<std::string>{"input_ids", "attention_mask", "token_type_ids"})
                            : (std::vector<std::string>{"input_ids", "attention_mask"}));
      for (const auto& v : s.inputs()) {
        ASSERT_TRUE(v.shape.has_value());
        EXPECT_EQ((*v.shape)[0].symbol, "batch_size");
        EXPECT_EQ((*v.shape)[1].symbol, "sequence_length");
      }
      NamedTensors feeds = feeds_for(arch);
      NamedTensors got = s.run(feeds);
      std::map<std::string, Shape> shapes;
      for (const auto& [name, t] : got) shapes[name] = t.shape();
      EXPECT_EQ(shapes, expected_outputs(task, c));
      auto err = test::kiln_vs_ort(model, feeds, d.path.string());
      EXPECT_EQ(err.size(), shapes.size());
      for (const auto& [name, e] : err) EXPECT_LE(e, 1e-4) << name;
      ++exported;
    }
  }
  EXPECT_EQ(exported, 35);
}

// hidden_act and the position embedding type come from config.json: relu and gelu_new run as
// ONNX Runtime runs them, anything else is refused naming the value.
TEST(ExportEncoders, ActivationsFromConfig) {
  test::ScratchDir d("kiln-export-enc");
  for (const std::string act : {"relu", "gelu_new"}) {
    SCOPED_TRACE(act);
    json c = tiny_config("bert");
    c["hidden_act"] = act;
    fs::path out = d.path / act;
    export_model(write_config(d.path / (act + "-src"), c).string(), out.string(), random_options("fill-mask"));
    Model m = load_model((out / "model.onnx").string());
    int relus = 0, tanhs = 0, erfs = 0;
    for (const Node& n : m.graph.nodes) {
      relus += n.op_type == "Relu";
      tanhs += n.op_type == "Tanh";
      erfs += n.op_type == "Erf";
    }
    // Two layers and the MLM transform use hidden_act; nothing else has an activation here.
    EXPECT_EQ(act == "relu" ? relus : tanhs, 3);
    EXPECT_EQ(erfs, 0);
    if (test::have_ort())
      for (const auto& [name, e] : test::kiln_vs_ort((out / "model.onnx").string(), feeds_for("bert"), d.path.string()))
        EXPECT_LE(e, 1e-4) << name;
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"hidden_act", "swish"}, {"position_embedding_type", "relative_key"}}) {
    json c = tiny_config("bert");
    c[key] = value;
    try {
      export_model(write_config(d.path / ("bad-" + value), c).string(), (d.path / ("o-" + value)).string(),
                   random_options("feature-extraction"));
      ADD_FAILURE() << key << " " << value << " was accepted";
    } catch (const Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find(value), std::string::npos) << e.what();
    }
  }
}

// ALBERT's layer groups and every fill-mask decoder tied to the word embeddings hold their
// weights once in the file.
TEST(ExportEncoders, SharedAndTiedWeightsAreStoredOnce) {
  test::ScratchDir d("kiln-export-enc");
  for (const std::string arch : {"albert", "bert", "roberta", "electra", "distilbert"}) {
    SCOPED_TRACE(arch);
    json c = tiny_config(arch);
    fs::path out = d.path / arch;
    export_model(write_config(d.path / (arch + "-src"), c).string(), out.string(), random_options("fill-mask"));
    Model m = load_model((out / "model.onnx").string());
    int vocab_tables = 0, group_tensors = 0;
    for (const auto& [name, t] : m.graph.initializers) {
      vocab_tables += t.rank() == 2 && t.dim(0) == 120;
      group_tensors += name.find("albert_layer_groups") != std::string::npos;
    }
    EXPECT_EQ(vocab_tables, 1);  // the word embeddings, read by the embedding and the decoder
    // 2 groups x 2 layers x 16 tensors (q, k, v, dense, ffn, ffn_output: weight + bias; 2 LayerNorms),
    // though 4 layers x 2 run.
    if (arch == "albert") EXPECT_EQ(group_tensors, 2 * 2 * 16);
  }
}

// RoBERTa's positions count the non-pad tokens: padding a row on the left (pad id 1, mask 0) leaves
// the hidden states of its real tokens as they were. (BERT's positions 0..n-1 would shift.)
TEST(ExportEncoders, RobertaPositionsSkipPadding) {
  test::ScratchDir d("kiln-export-enc");
  json c = tiny_config("roberta");
  export_model(write_config(d.path / "src", c).string(), (d.path / "out").string(),
               random_options("feature-extraction"));
  Session s((d.path / "out" / "model.onnx").string());
  auto run = [&](std::vector<int64_t> ids, std::vector<int64_t> mask) {
    int64_t n = (int64_t)ids.size();
    return s.run({{"input_ids", Tensor::from_vector<int64_t>({1, n}, ids)},
                  {"attention_mask", Tensor::from_vector<int64_t>({1, n}, mask)}})
        .at("last_hidden_state");
  };
  Tensor plain = run({0, 17, 42, 2}, {1, 1, 1, 1});
  Tensor padded = run({1, 1, 0, 17, 42, 2}, {0, 0, 1, 1, 1, 1});
  const float* a = plain.data<float>();
  const float* b = padded.data<float>() + 2 * 32;
  double err = 0;
  for (int64_t i = 0; i < 4 * 32; ++i) err = std::max(err, (double)std::fabs(a[i] - b[i]));
  EXPECT_LE(err, 1e-4);
}

// GraphBuilder writes axes the way each opset wants them.
TEST(GraphBuilderOpsets, AxesAsAttributeOrInput) {
  for (int64_t opset : {13, 17, 18, 21}) {
    SCOPED_TRACE(opset);
    GraphBuilder b("g", opset);
    std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{3, ""}});
    std::string m = b.reduce_mean(b.unsqueeze(x, {0}), {-1});
    b.output(b.squeeze(m, {0}), "y", DType::F32, {Dim{2, ""}, Dim{1, ""}});
    Model model = b.finish();
    for (const Node& n : model.graph.nodes) {
      if (n.op_type == "Unsqueeze" || n.op_type == "Squeeze") {
        EXPECT_EQ(n.inputs.size(), 2u) << n.op_type;  // an input since opset 13
        EXPECT_FALSE(n.has_attr("axes")) << n.op_type;
      }
      if (n.op_type == "ReduceMean") {
        EXPECT_EQ(n.has_attr("axes"), opset < 18);  // an input since opset 18
        EXPECT_EQ(n.inputs.size(), opset < 18 ? 1u : 2u);
      }
    }
    auto y = Session(std::move(model)).run({{"x", Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 9})}}).at("y");
    EXPECT_EQ(y.shape(), (Shape{2, 1}));
    EXPECT_FLOAT_EQ(y.data<float>()[0], 2.0f);
    EXPECT_FLOAT_EQ(y.data<float>()[1], 6.0f);
  }
}

}  // namespace
