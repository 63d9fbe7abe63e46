// The q, k, v projections taken into kiln:Attention (passes/attention_projection_fusion.cc): the
// float DistilBERT, BERT and T5 encoder and, on a CPU with AVX512-VNNI, ONNX Runtime's quantized
// DistilBERT and BERT have each layer's three products folded into its attention, and the outputs
// are bitwise those of the same model with the fusion kept off (each layer's query projection made a
// graph output too, which leaves the products in the graph), at 1 and 2 threads and at batch sizes
// that take each of the kernel's paths (whole sequences per thread, one sequence after another) with
// sequences that do not start on a row tile (7, 9 and 13 tokens). The outputs against ONNX Runtime's
// and PyTorch's: tests/quantize/ort_parity_test.cc, tests/runtime/golden_test.cc,
// tests/runtime/t5_numerics_test.cc.
#include <gtest/gtest.h>

#include <random>

#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "runtime/kernels/cpu/qgemm_vnni.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

int projected_attentions(const Graph& g) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == "Attention" && node.attributes.count("projections");
  return n;
}

// The model with every layer's query projection (values whose name holds `query`) as one more
// graph output.
Model with_query_outputs(const std::string& path, const std::string& query) {
  Model m = load_model(path);
  std::vector<std::string> names;
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs)
      if (o.find(query) != std::string::npos) names.push_back(o);
  for (const auto& name : names) {
    ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    m.graph.outputs.push_back(v);
  }
  return m;
}

// Token ids, a mask and (for models that take them) segment ids.
NamedTensors token_feeds(const Session& s, int64_t batch, int64_t seq, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor ids(DType::I64, {batch, seq}), mask(DType::I64, {batch, seq}), segments(DType::I64, {batch, seq});
  for (int64_t i = 0; i < segments.numel(); ++i) segments.data<int64_t>()[i] = (i % seq) >= seq / 2;
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int64_t>()[i] = (int64_t)(rng() % 1000);
  // Padding at the end of every other row, so the mask's Where does something.
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < seq; ++t) mask.data<int64_t>()[b * seq + t] = (b % 2 == 1 && t >= seq - 2) ? 0 : 1;
  NamedTensors feeds{{"input_ids", ids}, {"attention_mask", mask}};
  for (const auto& in : s.inputs())
    if (in.name == "token_type_ids") feeds.emplace("token_type_ids", segments);
  return feeds;
}

}  // namespace

void expect_bitwise_as_unfused(const std::string& path, const std::string& query, bool fuses) {
  for (int threads : {1, 2}) {
    SessionOptions opt;
    opt.threads = threads;
    Session fused(load_model(path), opt), unfused(with_query_outputs(path, query), opt);
    EXPECT_EQ(projected_attentions(fused.model().graph), fuses ? 2 : 0);
    EXPECT_EQ(projected_attentions(unfused.model().graph), 0);
    struct Case {
      int64_t batch, seq;
    };
    for (Case c : {Case{1, 7}, Case{2, 7}, Case{3, 13}, Case{4, 128}, Case{5, 13}, Case{17, 9}}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, batch " + std::to_string(c.batch) + ", " +
                   std::to_string(c.seq) + " tokens");
      NamedTensors feeds = token_feeds(fused, c.batch, c.seq, (uint32_t)(c.batch * 100 + c.seq));
      NamedTensors got = fused.run(feeds), want = unfused.run(feeds);
      for (const auto& [name, t] : got) {
        ASSERT_TRUE(want.count(name)) << name;
        const Tensor& w = want.at(name);
        ASSERT_EQ(t.shape(), w.shape()) << name;
        int64_t differ = 0;
        for (int64_t i = 0; i < t.numel(); ++i) differ += t.data<float>()[i] != w.data<float>()[i];
        EXPECT_EQ(differ, 0) << name;
      }
    }
  }
}

TEST(AttentionProjectionFusion, FloatDistilBertBitwiseAsUnfused) {
  expect_bitwise_as_unfused(test::fixture("models/distilbert-tiny/model.onnx"), "/attention/q_lin/Add_output_0", true);
}

// T5's projections have no bias (plain MatMul).
TEST(AttentionProjectionFusion, FloatT5EncoderBitwiseAsUnfused) {
  expect_bitwise_as_unfused(test::fixture("models/t5-tiny/encoder_model.onnx"), "/SelfAttention/q/MatMul_output_0", true);
}

// BERT's exports also read each projection's Shape (for the Reshape's target).
TEST(AttentionProjectionFusion, FloatBertBitwiseAsUnfused) {
  expect_bitwise_as_unfused(test::fixture("models/bert-tiny/model.onnx"), "/attention/self/query/Add_output_0", true);
}

TEST(AttentionProjectionFusion, QuantizedBertBitwiseAsUnfused) {
  expect_bitwise_as_unfused(test::fixture("models/bert-tiny/model_quantized.onnx"),
                            "/attention/self/query/Add_output_0", cpu::vnni_gemm_supported());
}

TEST(AttentionProjectionFusion, QuantizedDistilBertBitwiseAsUnfused) {
  expect_bitwise_as_unfused(test::fixture("models/distilbert-tiny/model_quantized.onnx"),
                            "/attention/q_lin/Add_output_0", cpu::vnni_gemm_supported());
}
