// Tied weights read through a Transpose (a kiln-exported T5 / GPT-2 lm_head, a BERT MLM decoder:
// the token table is stored once) are quantized like any other weight: no product with a constant
// weight is left float, ONNX Runtime runs the int8 file with kiln's outputs, the outputs stay near
// PyTorch's fp32 ones, and the float table stays once for the embedding Gather.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/tensor_json.h"
#include "export/export.h"
#include "graph/onnx_io.h"
#include "quant_test_util.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "quantize/quantize_model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;
using namespace kiln::quantize;
namespace fs = std::filesystem;

namespace {

constexpr double kParity = 1e-5;  // as ort_parity_test.cc: int8 products are exact in both runtimes

// MatMul / Gemm nodes left float whose weight is constant: an initializer, or a Transpose of one.
int float_products_with_constant_weight(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes) {
    if ((node.op_type != "MatMul" && node.op_type != "Gemm") || node.inputs.size() < 2) continue;
    const std::string& b = node.inputs[1];
    const Node* p = qtest::producer(g, b);
    n += g.initializers.count(b) ||
         (p && p->op_type == "Transpose" && g.initializers.count(p->inputs[0]));
  }
  return n;
}

int tensors_of(const Graph& g, const Shape& shape, DType dtype) {
  int n = 0;
  for (const auto& [name, t] : g.initializers) n += t.shape() == shape && t.dtype() == dtype;
  return n;
}

fs::path export_fixture(const std::string& model, const fs::path& dir, bool merged = false) {
  fs::path src = dir / "src", out = dir / "out";
  fs::create_directories(src);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::fixture("models/" + model + "/" + f), src / f);
  ExportOptions o;
  o.merged = merged;
  export_model(src.string(), out.string(), o);
  return out;
}

}  // namespace

TEST(QuantizeTiedWeights, GenerationLmHeadBecomesInt8) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  for (const char* model : {"gpt2-tiny", "t5-tiny"}) {
    test::ScratchDir d("kiln-tied");
    fs::path out = export_fixture(model, d.path);
    quantize_path(out.string(), (d.path / "q").string(), preset_options("avx512_vnni", false));
    for (const char* g : {"decoder", "decoder_with_past"}) {
      SCOPED_TRACE(std::string(model) + " " + g);
      std::string graph = (d.path / "q" / (std::string(g) + "_model.onnx")).string();
      Model q = load_model(graph);
      EXPECT_EQ(float_products_with_constant_weight(q.graph), 0);
      EXPECT_EQ(tensors_of(q.graph, {1024, 64}, DType::F32), 1);  // the table, for the embedding Gather
      EXPECT_EQ(tensors_of(q.graph, {64, 1024}, DType::F32), 0);
      EXPECT_EQ(tensors_of(q.graph, {64, 1024}, DType::I8), 1);  // the lm_head

      std::string ref = test::fixture(std::string("models/") + model + "/ref/" + g);
      NamedTensors in = read_tensors_json(ref + "_inputs.json");
      NamedTensors fp32 = read_tensors_json(ref + "_outputs.json");
      NamedTensors got = Session(graph).run(in);
      for (const auto& [name, err] : test::kiln_vs_ort(graph, in, d.path.string())) EXPECT_LE(err, kParity) << name;
      // The bound GenerationFoldersEveryGraph (ort_parity_test.cc) uses for int8 against float.
      for (const auto& [name, t] : fp32) EXPECT_LE(test::relative_error(got.at(name), t), 0.4) << name;
    }
  }
}

// The merged T5 decoder: both If branches read the table through a Transpose of the hoisted
// initializer; one int8 lm_head serves both, and the graph runs in ONNX Runtime with kiln's outputs.
TEST(QuantizeTiedWeights, MergedDecoderSharesOneInt8LmHead) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir d("kiln-tied-merged");
  fs::path out = export_fixture("t5-tiny", d.path, true);
  quantize_path(out.string(), (d.path / "q").string(), preset_options("avx512_vnni", false));
  std::string graph = (d.path / "q" / "decoder_model_merged.onnx").string();
  Model q = load_model(graph);
  EXPECT_EQ(tensors_of(q.graph, {1024, 64}, DType::F32), 1);
  EXPECT_EQ(tensors_of(q.graph, {64, 1024}, DType::F32), 0);
  EXPECT_EQ(tensors_of(q.graph, {64, 1024}, DType::I8), 1);
  ASSERT_EQ(q.graph.nodes.size(), 1u);
  for (const char* branch : {"then_branch", "else_branch"})
    EXPECT_EQ(float_products_with_constant_weight(*q.graph.nodes[0].attr(branch)->g), 0) << branch;

  NamedTensors in = read_tensors_json(test::fixture("models/t5-tiny/ref/decoder_inputs.json"));
  const int64_t batch = in.at("input_ids").dim(0);
  for (int l = 0; l < 2; ++l)
    for (const char* part : {"decoder.key", "decoder.value", "encoder.key", "encoder.value"})
      in[fmt::format("past_key_values.{}.{}", l, part)] = Tensor::zeros(DType::F32, {batch, 4, 0, 16});
  in["use_cache_branch"] = Tensor::from_vector<bool>({1}, {false});
  for (const auto& [name, err] : test::kiln_vs_ort(graph, in, d.path.string())) EXPECT_LE(err, kParity) << name;
  NamedTensors fp32 = read_tensors_json(test::fixture("models/t5-tiny/ref/decoder_outputs.json"));
  EXPECT_LE(test::relative_error(Session(graph).run(in).at("logits"), fp32.at("logits")), 0.4);
}

// bertfam's report: the tied MLM decoder stayed float after kiln quantize.
TEST(QuantizeTiedWeights, BertMlmDecoderBecomesInt8) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  test::ScratchDir d("kiln-tied-mlm");
  nlohmann::json c = {{"model_type", "bert"},        {"vocab_size", 120},         {"max_position_embeddings", 40},
                      {"hidden_size", 32},           {"num_attention_heads", 4},  {"intermediate_size", 64},
                      {"num_hidden_layers", 2},      {"hidden_act", "gelu"},      {"layer_norm_eps", 1e-12},
                      {"type_vocab_size", 2},        {"pad_token_id", 0},         {"initializer_range", 0.2}};
  fs::create_directories(d.path / "src");
  write_file_atomic((d.path / "src" / "config.json").string(), c.dump());
  ExportOptions eo;
  eo.task = "fill-mask";
  eo.random_weights = true;
  export_model((d.path / "src" / "config.json").string(), (d.path / "out").string(), eo);
  std::string f32 = (d.path / "out" / "model.onnx").string();
  std::vector<int64_t> ids = {2, 17, 5, 103, 44, 9, 3, 2, 60, 61, 62, 63, 64, 3};
  NamedTensors in = {{"input_ids", Tensor::from_vector<int64_t>({2, 7}, ids)},
                     {"attention_mask", Tensor::from_vector<int64_t>({2, 7}, std::vector<int64_t>(14, 1))},
                     {"token_type_ids", Tensor::zeros(DType::I64, {2, 7})}};
  NamedTensors want = Session(f32).run(in);
  for (Format f : {Format::QOperator, Format::QDQ}) {
    SCOPED_TRACE(f == Format::QDQ ? "QDQ" : "QOperator");
    std::string q8 = (d.path / (f == Format::QDQ ? "qdq.onnx" : "q.onnx")).string();
    Options o = preset_options("avx512_vnni", false);
    o.format = f;
    quantize_path(f32, q8, o);
    Model q = load_model(q8);
    EXPECT_EQ(float_products_with_constant_weight(q.graph), 0);
    EXPECT_EQ(tensors_of(q.graph, {120, 32}, DType::F32), 1);
    EXPECT_EQ(tensors_of(q.graph, {32, 120}, DType::F32), 0);
    EXPECT_EQ(tensors_of(q.graph, {32, 120}, DType::I8), 1);
    for (const auto& [name, err] : test::kiln_vs_ort(q8, in, d.path.string())) EXPECT_LE(err, kParity) << name;
    EXPECT_LE(test::relative_error(Session(q8).run(in).at("logits"), want.at("logits")), 0.05);
  }
}

// A tied lm_head kept float (excluded by name) reads the table through a Transpose again: no float
// transposed copy is written. With --quantize-embeddings the table itself becomes int8 too.
TEST(QuantizeTiedWeights, ExcludedLmHeadStoresTheTableOnce) {
  test::ScratchDir d("kiln-tied-excl");
  fs::path out = export_fixture("gpt2-tiny", d.path);
  Model m = load_model((out / "decoder_model.onnx").string());
  std::string head;
  for (const Node& n : m.graph.nodes) {
    const Node* p = n.op_type == "MatMul" ? qtest::producer(m.graph, n.inputs[1]) : nullptr;
    if (p && p->op_type == "Transpose") head = n.name;
  }
  ASSERT_FALSE(head.empty());

  Model kept = m;
  Options o = preset_options("avx512_vnni", false);
  o.nodes_to_exclude = {head};
  GraphStats st = quantize_model(kept, o);
  EXPECT_GT(st.total_quantized(), 0);
  EXPECT_EQ(float_products_with_constant_weight(kept.graph), 1);  // the lm_head, through its Transpose
  EXPECT_EQ(tensors_of(kept.graph, {1024, 64}, DType::F32), 1);
  EXPECT_EQ(tensors_of(kept.graph, {64, 1024}, DType::F32), 0);
  NamedTensors in = read_tensors_json(test::fixture("models/gpt2-tiny/ref/decoder_inputs.json"));
  NamedTensors fp32 = read_tensors_json(test::fixture("models/gpt2-tiny/ref/decoder_outputs.json"));
  EXPECT_LE(test::relative_error(Session(kept).run(in).at("logits"), fp32.at("logits")), 0.4);

  Model all = m;
  o = preset_options("avx512_vnni", false);
  o.quantize_embeddings = true;
  quantize_model(all, o);
  EXPECT_EQ(float_products_with_constant_weight(all.graph), 0);
  EXPECT_EQ(tensors_of(all.graph, {1024, 64}, DType::F32), 0);
  EXPECT_EQ(tensors_of(all.graph, {64, 1024}, DType::I8), 1);
  EXPECT_LE(test::relative_error(Session(all).run(in).at("logits"), fp32.at("logits")), 0.4);
}
