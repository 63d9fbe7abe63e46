// The attention fusion: the decomposed attention torch.onnx.export writes (DistilBERT's Where mask
// with a scaled query, BERT's scaled scores with an additive mask, T5's unscaled scores with a
// position bias) runs as one kiln:Attention node, whose outputs are compared with ONNX Runtime
// running the same unfused graph; graphs that differ from the pattern are left alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

enum class Style { DistilBert, Bert, T5 };

struct Case {
  Style style;
  int64_t batch, seq, heads, head_dim;
};

Tensor random_tensor(Shape s, uint32_t seed, float scale) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(g);
  return t;
}

// A padding mask: batch row r has its last r * 3 positions masked (at least one position kept).
Tensor padding_mask(int64_t batch, int64_t seq) {
  Tensor m(DType::I64, {batch, seq});
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t j = 0; j < seq; ++j) m.data<int64_t>()[r * seq + j] = j < std::max<int64_t>(1, seq - r * 3) ? 1 : 0;
  return m;
}

// Options that change the graph away from the pattern (it must then be left alone).
struct Variant {
  bool key_perm_0132 = false;   // K reshaped to [b, H, t, D] and transposed 0132 (head-major: fused)
  bool out_perm_0123 = false;   // the output is not transposed back to [b, s, H, D]: not the pattern
  bool scores_output = false;   // the scores are also a graph output
  bool softmax_axis_2 = false;  // softmax over the query axis
  bool direct = true;           // q, k, v are graph inputs (else projections of x)
};

// One attention layer as the exporter writes it; inputs x [B, S, C], and the mask / bias inputs.
Model attention_graph(const Case& c, const Variant& var = {}) {
  const int64_t C = c.heads * c.head_dim;
  GraphBuilder b("attn", 13);
  std::string x;
  if (!var.direct) x = b.input("x", DType::F32, {Dim{std::nullopt, "batch"}, Dim{std::nullopt, "seq"}, Dim{C, ""}});
  auto proj = [&](const char* name, uint32_t seed) {
    if (var.direct)  // q, k, v given: the attention's own numerics, free of the projections'
      return b.input(name, DType::F32, {Dim{std::nullopt, "batch"}, Dim{std::nullopt, "seq"}, Dim{C, ""}});
    std::string h = b.op("MatMul", {x, b.initializer(std::string(name) + ".W", random_tensor({C, C}, seed, 0.2f))});
    return b.op("Add", {b.initializer(std::string(name) + ".b", random_tensor({C}, seed + 1, 0.1f)), h});
  };
  std::string split = b.const_i64({0, -1, c.heads, c.head_dim});
  std::string q = b.op("Reshape", {proj("q", 1), split});
  std::string k = b.op("Reshape", {proj("k", 3), split});
  std::string v = b.op("Reshape", {proj("v", 5), split});
  std::string q4 = b.op("Transpose", {q}, {{"perm", attr_ints({0, 2, 1, 3})}});
  std::string v4 = b.op("Transpose", {v}, {{"perm", attr_ints({0, 2, 1, 3})}});
  std::string kt;
  if (var.key_perm_0132) {
    std::string kh = b.op("Reshape", {proj("k2", 7), b.const_i64({0, c.heads, -1, c.head_dim})});
    kt = b.op("Transpose", {kh}, {{"perm", attr_ints({0, 1, 3, 2})}});
  } else {
    kt = b.op("Transpose", {k}, {{"perm", attr_ints({0, 2, 3, 1})}});
  }
  const float scale = std::sqrt((float)c.head_dim);
  std::string scores;
  if (c.style == Style::DistilBert) {
    q4 = b.op("Div", {q4, b.const_f32(scale)});
    scores = b.op("MatMul", {q4, kt});
    std::string mask = b.input("attention_mask", DType::I64, {Dim{std::nullopt, "batch"}, Dim{std::nullopt, "seq"}});
    std::string eq = b.op("Equal", {mask, b.const_i64({0}, true)});
    std::string m4 = b.unsqueeze(eq, {1, 2});
    std::string ex = b.op("Expand", {m4, b.op("Shape", {scores})});
    std::string cond = b.op("Cast", {ex}, {{"to", attr_int((int64_t)DType::Bool)}});
    scores = b.op("Where", {cond, b.const_f32(-3.4028234663852886e+38f), scores});
  } else if (c.style == Style::Bert) {
    scores = b.op("MatMul", {q4, kt});
    if (var.scores_output)
      b.output(scores, "scores", DType::F32,
               {Dim{std::nullopt, "batch"}, Dim{c.heads, ""}, Dim{std::nullopt, "seq"}, Dim{std::nullopt, "seq"}});
    scores = b.op("Div", {scores, b.const_f32(scale)});
    std::string mask = b.input("mask_add", DType::F32,
                               {Dim{std::nullopt, "batch"}, Dim{1, ""}, Dim{1, ""}, Dim{std::nullopt, "seq"}});
    scores = b.op("Add", {scores, mask});
  } else {
    scores = b.op("MatMul", {q4, kt});
    std::string bias = b.input("position_bias", DType::F32,
                               {Dim{std::nullopt, "pb"}, Dim{c.heads, ""}, Dim{std::nullopt, "seq"}, Dim{std::nullopt, "seq"}});
    scores = b.op("Add", {scores, bias});
    scores = b.op("Cast", {scores}, {{"to", attr_int((int64_t)DType::F32)}});
  }
  std::string p = b.op("Softmax", {scores}, {{"axis", attr_int(var.softmax_axis_2 ? 2 : -1)}});
  std::vector<int64_t> out_perm = var.out_perm_0123 ? std::vector<int64_t>{0, 1, 2, 3} : std::vector<int64_t>{0, 2, 1, 3};
  std::string o = b.op("Transpose", {b.op("MatMul", {p, v4})}, {{"perm", attr_ints(out_perm)}});
  std::string y = b.op("Reshape", {o, b.const_i64({0, -1, C})});
  b.output(y, "y", DType::F32, {Dim{std::nullopt, "batch"}, Dim{std::nullopt, "seq"}, Dim{C, ""}});
  return b.finish();
}

NamedTensors feeds_for(const Case& c, uint32_t seed, bool direct = true) {
  const int64_t C = c.heads * c.head_dim;
  NamedTensors f;
  // T5 does not scale its scores and its weights make them large (3.4e4 in t5-small): scale so.
  const float spread = c.style == Style::T5 ? 12.0f : 1.0f;
  if (direct) {
    for (const char* n : {"q", "k", "v"}) f[n] = random_tensor({c.batch, c.seq, C}, seed++, n[0] == 'v' ? 1.0f : spread);
  } else {
    f["x"] = random_tensor({c.batch, c.seq, C}, seed, 1.0f);
  }
  if (c.style == Style::DistilBert) {
    f["attention_mask"] = padding_mask(c.batch, c.seq);
  } else if (c.style == Style::Bert) {
    Tensor m = padding_mask(c.batch, c.seq);
    Tensor add(DType::F32, {c.batch, 1, 1, c.seq});
    for (int64_t i = 0; i < m.numel(); ++i) add.data<float>()[i] = m.data<int64_t>()[i] ? 0.0f : -10000.0f;
    f["mask_add"] = add;
  } else {
    // T5: position bias [1, H, S, S] plus the mask's -3.4e38 on padded keys, broadcast to [B, H, S, S];
    // T5 does not scale its scores, so make them large (as T5's weights do) to stress the softmax.
    Tensor pb = random_tensor({c.batch, c.heads, c.seq, c.seq}, seed + 7, 4.0f);
    Tensor m = padding_mask(c.batch, c.seq);
    for (int64_t bb = 0; bb < c.batch; ++bb)
      for (int64_t r = 0; r < c.heads * c.seq; ++r)
        for (int64_t j = 0; j < c.seq; ++j)
          if (!m.data<int64_t>()[bb * c.seq + j])
            pb.data<float>()[(bb * c.heads * c.seq + r) * c.seq + j] += -3.4028234663852886e+38f;
    f["position_bias"] = pb;
  }
  return f;
}

// The attention in double precision from the direct q, k, v feeds: the independent reference.
Tensor reference(const Case& c, const NamedTensors& f) {
  const int64_t B = c.batch, S = c.seq, H = c.heads, D = c.head_dim, C = H * D;
  auto widen = [&](const char* name) {
    const Tensor& t = f.at(name);
    return std::vector<double>(t.data<float>(), t.data<float>() + t.numel());
  };
  auto q = widen("q"), k = widen("k"), v = widen("v");
  Tensor y(DType::F32, {B, S, C});
  std::vector<double> row(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        double mx = -1e300;
        for (int64_t j = 0; j < S; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += q[(b * S + i) * C + h * D + d] * k[(b * S + j) * C + h * D + d];
          if (c.style != Style::T5) s /= std::sqrt((double)D);
          if (c.style == Style::DistilBert && f.at("attention_mask").data<int64_t>()[b * S + j] == 0)
            s = -3.4028234663852886e+38;
          if (c.style == Style::Bert) s += f.at("mask_add").data<float>()[b * S + j];
          if (c.style == Style::T5) s += f.at("position_bias").data<float>()[((b * H + h) * S + i) * S + j];
          row[j] = s;
          mx = std::max(mx, s);
        }
        double sum = 0;
        for (int64_t j = 0; j < S; ++j) sum += (row[j] = std::exp(row[j] - mx));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < S; ++j) acc += row[j] / sum * v[(b * S + j) * C + h * D + d];
          y.data<float>()[(b * S + i) * C + h * D + d] = (float)acc;
        }
      }
  return y;
}

class AttentionFusion : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionFusion, OneNodeMatchesOnnxRuntime) {
  const Case c = GetParam();
  Model m = attention_graph(c);
  test::ScratchDir dir("kiln-attn");
  std::string path = (dir.path / "attn.onnx").string();
  save_model(m, path);
  Session s(path);
  const Graph& g = s.model().graph;
  EXPECT_EQ(test::count_op(g, "kiln", "Attention"), 1);
  for (const char* op : {"Softmax", "Transpose", "Where", "Expand", "Div"})
    EXPECT_EQ(test::count_op(g, "", op), 0) << op;
  EXPECT_EQ(test::count_op(g, "", "MatMul"), 0);

  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  NamedTensors feeds = feeds_for(c, 11);
  Tensor ort = test::run_ort(path, feeds, dir.path.string()).at("y");
  Tensor got = s.run(feeds).at("y");
  Tensor ref = reference(c, feeds);
  // Within 2x ONNX Runtime's own error against the float64 reference (T5's unscaled scores
  // amplify rounding), and close to ONNX Runtime's output.
  double ort_err = test::relative_error(ort, ref), err = test::relative_error(got, ref);
  EXPECT_LE(err, std::max(2 * ort_err, 2e-6)) << "ORT's error " << ort_err;
  EXPECT_LE(test::relative_error(got, ort), std::max(3 * ort_err, 2e-5));
  // And no worse than kiln's own unfused nodes (optimization level 1).
  SessionOptions plain;
  plain.optimization_level = 1;
  Tensor unfused = Session(path, plain).run(feeds).at("y");
  EXPECT_LE(err, std::max(1.25 * test::relative_error(unfused, ref), 2e-6));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionFusion,
    ::testing::Values(Case{Style::DistilBert, 1, 1, 2, 8}, Case{Style::DistilBert, 1, 7, 4, 16},
                      Case{Style::DistilBert, 3, 128, 12, 64}, Case{Style::DistilBert, 2, 200, 2, 32},
                      Case{Style::Bert, 1, 1, 3, 8}, Case{Style::Bert, 2, 7, 4, 16}, Case{Style::Bert, 3, 128, 12, 64},
                      Case{Style::T5, 1, 1, 2, 8}, Case{Style::T5, 2, 7, 8, 64}, Case{Style::T5, 3, 128, 8, 64}),
    [](const ::testing::TestParamInfo<Case>& i) {
      const Case& c = i.param;
      std::string s = c.style == Style::DistilBert ? "DistilBert" : c.style == Style::Bert ? "Bert" : "T5";
      return s + "_b" + std::to_string(c.batch) + "_s" + std::to_string(c.seq) + "_h" + std::to_string(c.heads) +
             "_d" + std::to_string(c.head_dim);
    });

// Graphs that differ from the pattern keep their nodes and still compute what ONNX Runtime does.
void expect_left_alone(const Case& c, const Variant& var) {
  Model m = attention_graph(c, var);
  test::ScratchDir dir("kiln-attn");
  std::string path = (dir.path / "attn.onnx").string();
  save_model(m, path);
  Session s(path);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "Attention"), 0);
  EXPECT_EQ(test::count_op(s.model().graph, "", "Softmax"), 1);
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  NamedTensors feeds = feeds_for(c, 5, var.direct);
  NamedTensors ort = test::run_ort(path, feeds, dir.path.string());
  NamedTensors got = s.run(feeds);
  for (const auto& [name, ref] : ort) EXPECT_LE(test::relative_error(got.at(name), ref), 2e-5) << name;
}

TEST(AttentionFusionRefuses, OutputTransposedWithAnotherPerm) {
  expect_left_alone({Style::Bert, 2, 7, 4, 16}, Variant{.out_perm_0123 = true, .direct = false});
}

TEST(AttentionFusionRefuses, ScoresReadElsewhere) {
  expect_left_alone({Style::Bert, 2, 7, 4, 16}, Variant{.scores_output = true, .direct = false});
}

TEST(AttentionFusionRefuses, SoftmaxOverAnotherAxis) {
  expect_left_alone({Style::DistilBert, 2, 7, 4, 16}, Variant{.softmax_axis_2 = true, .direct = false});
}

}  // namespace

namespace {

// K reshaped straight to [b, H, t, D] and transposed 0132 (as a decoder step reads its KV cache):
// fused with a head-major key, compared with ONNX Runtime.
TEST(AttentionFusion, HeadMajorKey) {
  const Case c{Style::Bert, 2, 7, 4, 16};
  Model m = attention_graph(c, Variant{.key_perm_0132 = true, .direct = false});
  test::ScratchDir dir("kiln-attn");
  std::string path = (dir.path / "attn.onnx").string();
  save_model(m, path);
  Session s(path);
  const Node* fused = nullptr;
  for (const auto& n : s.model().graph.nodes)
    if (n.op_type == "Attention" && n.domain == "kiln") fused = &n;
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->attr_string("k_layout", ""), "bhsd");
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  NamedTensors feeds = feeds_for(c, 9, false);
  Tensor ort = test::run_ort(path, feeds, dir.path.string()).at("y");
  EXPECT_LE(test::relative_error(s.run(feeds).at("y"), ort), 2e-5);
}

}  // namespace

namespace {

// A T5 decoder step as torch.onnx.export writes it with a KV cache: self-attention over
// Concat(past, new) keys and values (head-major, also graph outputs), and cross-attention over the
// encoder's keys and values given as [b, H, T, D] inputs; unscaled scores plus a position bias.
TEST(AttentionFusion, DecoderStepWithCache) {
  const int64_t B = 2, P = 9, T = 13, H = 4, D = 16, C = H * D;
  GraphBuilder b("step", 13);
  auto dim = [](int64_t v) { return Dim{v, ""}; };
  std::string x = b.input("x", DType::F32, {dim(B), dim(1), dim(C)});
  std::string past_k = b.input("past_k", DType::F32, {dim(B), dim(H), dim(P), dim(D)});
  std::string past_v = b.input("past_v", DType::F32, {dim(B), dim(H), dim(P), dim(D)});
  std::string enc_k = b.input("enc_k", DType::F32, {dim(B), dim(H), dim(T), dim(D)});
  std::string enc_v = b.input("enc_v", DType::F32, {dim(B), dim(H), dim(T), dim(D)});
  std::string self_bias = b.input("self_bias", DType::F32, {dim(1), dim(H), dim(1), dim(P + 1)});
  std::string cross_bias = b.input("cross_bias", DType::F32, {dim(B), dim(1), dim(1), dim(T)});
  uint32_t seed = 1;
  auto heads = [&](const std::string& in) {
    std::string h = b.op("MatMul", {in, b.initializer("W" + std::to_string(seed), random_tensor({C, C}, seed, 0.3f))});
    ++seed;
    return b.op("Transpose", {b.op("Reshape", {h, b.const_i64({0, -1, H, D})})}, {{"perm", attr_ints({0, 2, 1, 3})}});
  };
  auto attend = [&](const std::string& q, const std::string& k, const std::string& v, const std::string& bias) {
    std::string kt = b.op("Transpose", {k}, {{"perm", attr_ints({0, 1, 3, 2})}});
    std::string s = b.op("Add", {b.op("MatMul", {q, kt}), bias});
    s = b.op("Softmax", {b.op("Cast", {s}, {{"to", attr_int((int64_t)DType::F32)}})}, {{"axis", attr_int(-1)}});
    std::string o = b.op("Transpose", {b.op("MatMul", {s, v})}, {{"perm", attr_ints({0, 2, 1, 3})}});
    return b.op("Reshape", {o, b.const_i64({0, -1, C})});
  };
  std::string present_k = b.op("Concat", {past_k, heads(x)}, {{"axis", attr_int(2)}});
  std::string present_v = b.op("Concat", {past_v, heads(x)}, {{"axis", attr_int(2)}});
  std::string y = attend(heads(x), present_k, present_v, self_bias);
  std::string z = attend(heads(y), enc_k, enc_v, cross_bias);
  b.output(z, "z", DType::F32, {dim(B), dim(1), dim(C)});
  b.output(present_k, "present_k", DType::F32, {dim(B), dim(H), dim(P + 1), dim(D)});
  b.output(present_v, "present_v", DType::F32, {dim(B), dim(H), dim(P + 1), dim(D)});
  Model m = b.finish();

  test::ScratchDir dir("kiln-attn");
  std::string path = (dir.path / "step.onnx").string();
  save_model(m, path);
  Session s(path);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "Attention"), 2);
  EXPECT_EQ(test::count_op(s.model().graph, "", "Softmax"), 0);
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  NamedTensors feeds{{"x", random_tensor({B, 1, C}, 21, 1.0f)},
                     {"past_k", random_tensor({B, H, P, D}, 22, 1.0f)},
                     {"past_v", random_tensor({B, H, P, D}, 23, 1.0f)},
                     {"enc_k", random_tensor({B, H, T, D}, 24, 1.0f)},
                     {"enc_v", random_tensor({B, H, T, D}, 25, 1.0f)},
                     {"self_bias", random_tensor({1, H, 1, P + 1}, 26, 2.0f)},
                     {"cross_bias", random_tensor({B, 1, 1, T}, 27, 2.0f)}};
  NamedTensors ort = test::run_ort(path, feeds, dir.path.string());
  NamedTensors got = s.run(feeds);
  for (const auto& [name, ref] : ort) EXPECT_LE(test::relative_error(got.at(name), ref), 2e-5) << name;
}

// GPT-2's decoder step as torch.onnx.export writes it (transformers' GPT2Attention): the cache
// concatenated along axis -2, the scores divided by sqrt(head_dim) computed from the value's Shape
// (a tensor, not a constant), a causal mask sliced from a constant buffer with the lengths read from
// the transposed query's and the key's Shapes, Where(mask, scores, fill), an added padding mask, and a
// Cast after the Softmax. One kiln:Attention, ONNX Runtime's outputs; with kv_cache_in_place both
// caches become kiln:KvAppend.
TEST(AttentionFusion, Gpt2DecoderStep) {
  const int64_t B = 2, P = 7, H = 4, D = 16, C = H * D, L = 32;
  GraphBuilder b("gpt2_step", 13);
  auto dim = [](int64_t v) { return Dim{v, ""}; };
  std::string x = b.input("x", DType::F32, {dim(B), dim(1), dim(C)});
  std::string past_k = b.input("past_k", DType::F32, {dim(B), dim(H), Dim{std::nullopt, "past"}, dim(D)});
  std::string past_v = b.input("past_v", DType::F32, {dim(B), dim(H), Dim{std::nullopt, "past"}, dim(D)});
  std::string pad = b.input("pad", DType::F32, {dim(B), dim(1), dim(1), Dim{std::nullopt, "total"}});
  auto heads = [&](uint32_t seed) {
    std::string h = b.op("MatMul", {x, b.initializer("W" + std::to_string(seed), random_tensor({C, C}, seed, 0.3f))});
    return b.op("Transpose", {b.op("Reshape", {h, b.const_i64({0, -1, H, D})})}, {{"perm", attr_ints({0, 2, 1, 3})}});
  };
  std::string q = heads(1);
  std::string present_k = b.op("Concat", {past_k, heads(2)}, {{"axis", attr_int(-2)}});
  std::string present_v = b.op("Concat", {past_v, heads(3)}, {{"axis", attr_int(-2)}});
  auto length = [&](const std::string& v, int64_t axis) {
    return b.op("Gather", {b.op("Shape", {v}), b.const_i64({axis}, true)}, {{"axis", attr_int(0)}});
  };
  std::string scores = b.op("MatMul", {q, b.op("Transpose", {present_k}, {{"perm", attr_ints({0, 1, 3, 2})}})});
  std::string root = b.op("Sqrt", {b.op("Cast", {length(present_v, 3)}, {{"to", attr_int((int64_t)DType::F32)}})});
  scores = b.op("Div", {scores, root});
  Tensor causal(DType::Bool, {1, 1, L, L});
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j) causal.data<bool>()[i * L + j] = j <= i;
  std::string qlen = length(q, 2), klen = length(present_k, 2);
  auto vec = [&](const std::string& scalar) { return b.op("Unsqueeze", {scalar, b.const_i64({0})}); };
  std::string starts = b.op("Concat", {vec(b.op("Sub", {klen, qlen})), b.const_i64({0})}, {{"axis", attr_int(0)}});
  std::string ends = b.op("Concat", {vec(klen), vec(klen)}, {{"axis", attr_int(0)}});
  std::string mask = b.op("Slice", {b.initializer("causal", causal), starts, ends, b.const_i64({2, 3})});
  Tensor fill = Tensor::scalar<float>(-3.4e38f);
  scores = b.op("Where", {mask, scores, b.initializer("fill", fill)});
  scores = b.op("Add", {scores, pad});
  std::string probs = b.op("Cast", {b.op("Softmax", {scores}, {{"axis", attr_int(-1)}})},
                           {{"to", attr_int((int64_t)DType::F32)}});
  std::string o = b.op("Transpose", {b.op("MatMul", {probs, present_v})}, {{"perm", attr_ints({0, 2, 1, 3})}});
  b.output(b.op("Reshape", {o, b.const_i64({0, -1, C})}), "y", DType::F32, {dim(B), dim(1), dim(C)});
  b.output(present_k, "present_k", DType::F32, {dim(B), dim(H), Dim{std::nullopt, "total"}, dim(D)});
  b.output(present_v, "present_v", DType::F32, {dim(B), dim(H), Dim{std::nullopt, "total"}, dim(D)});
  Model m = b.finish();
  // The exporter names the Concat's output present.*; GraphBuilder::output adds an Identity instead.
  for (const std::string out : {"present_k", "present_v"}) {
    auto id = std::find_if(m.graph.nodes.begin(), m.graph.nodes.end(),
                           [&](const Node& n) { return n.op_type == "Identity" && n.outputs[0] == out; });
    ASSERT_NE(id, m.graph.nodes.end());
    const std::string value = id->inputs[0];
    m.graph.nodes.erase(id);
    for (Node& n : m.graph.nodes) {
      for (std::string& i : n.inputs)
        if (i == value) i = out;
      for (std::string& o : n.outputs)
        if (o == value) o = out;
    }
  }

  test::ScratchDir dir("kiln-attn");
  std::string path = (dir.path / "gpt2_step.onnx").string();
  save_model(m, path);
  Session s(path);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "Attention"), 1);
  EXPECT_EQ(test::count_op(s.model().graph, "", "Softmax"), 0);
  SessionOptions grow;
  grow.kv_cache_in_place = true;
  EXPECT_EQ(test::count_op(Session(path, grow).model().graph, "kiln", "KvAppend"), 2);
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  Tensor pad_mask(DType::F32, {B, 1, 1, P + 1});
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j <= P; ++j) pad_mask.data<float>()[r * (P + 1) + j] = r == 1 && j < 2 ? -3.4e38f : 0.f;
  NamedTensors feeds{{"x", random_tensor({B, 1, C}, 31, 1.0f)},
                     {"past_k", random_tensor({B, H, P, D}, 32, 1.0f)},
                     {"past_v", random_tensor({B, H, P, D}, 33, 1.0f)},
                     {"pad", pad_mask}};
  NamedTensors ort = test::run_ort(path, feeds, dir.path.string());
  NamedTensors got = s.run(feeds);
  for (const auto& [name, ref] : ort) EXPECT_LE(test::relative_error(got.at(name), ref), 2e-5) << name;
}

}  // namespace

// A 16-bit float model (Optimum's --fp16 export of T5: unscaled scores, a position bias) fuses too:
// the kernel widens to float32, runs the block and rounds the output once. Compared with ONNX
// Runtime running the unfused fp16 graph (which rounds after every op), within fp16 precision.
TEST(AttentionFusion, HalfPrecisionT5) {
  const int64_t B = 2, S = 7, H = 4, D = 8, C = H * D;
  GraphBuilder b("attn_fp16", 13);
  auto dyn = [](const char* n) { return Dim{std::nullopt, n}; };
  std::string split = b.const_i64({0, -1, H, D});
  auto in = [&](const char* name) {
    return b.op("Reshape", {b.input(name, DType::F16, {dyn("batch"), dyn("seq"), Dim{C, ""}}), split});
  };
  std::string q4 = b.op("Transpose", {in("q")}, {{"perm", attr_ints({0, 2, 1, 3})}});
  std::string kt = b.op("Transpose", {in("k")}, {{"perm", attr_ints({0, 2, 3, 1})}});
  std::string v4 = b.op("Transpose", {in("v")}, {{"perm", attr_ints({0, 2, 1, 3})}});
  std::string bias = b.input("position_bias", DType::F16, {Dim{1, ""}, Dim{H, ""}, dyn("seq"), dyn("seq")});
  std::string p = b.op("Softmax", {b.op("Add", {b.op("MatMul", {q4, kt}), bias})}, {{"axis", attr_int(-1)}});
  std::string o = b.op("Transpose", {b.op("MatMul", {p, v4})}, {{"perm", attr_ints({0, 2, 1, 3})}});
  b.output(b.op("Reshape", {o, b.const_i64({0, -1, C})}), "y", DType::F16, {dyn("batch"), dyn("seq"), Dim{C, ""}});
  Model m = b.finish();
  test::ScratchDir dir("kiln-attn16");
  std::string path = (dir.path / "attn16.onnx").string();
  save_model(m, path);
  Session s(path);
  EXPECT_EQ(test::count_op(s.model().graph, "kiln", "Attention"), 1);

  NamedTensors feeds{{"q", random_tensor({B, S, C}, 21, 1.0f).cast(DType::F16)},
                     {"k", random_tensor({B, S, C}, 22, 1.0f).cast(DType::F16)},
                     {"v", random_tensor({B, S, C}, 23, 1.0f).cast(DType::F16)},
                     {"position_bias", random_tensor({1, H, S, S}, 24, 1.0f).cast(DType::F16)}};
  Tensor got = s.run(feeds).at("y");
  ASSERT_EQ(got.dtype(), DType::F16);
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  Tensor ort = test::run_ort(path, feeds, dir.path.string()).at("y");
  EXPECT_LE(test::relative_error(got.cast(DType::F32), ort.cast(DType::F32)), 5e-3);
}
