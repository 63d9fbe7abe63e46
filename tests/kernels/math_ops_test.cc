// Activations, casts, reductions, softmax and normalisation: literal cases worked out by hand
// from the ONNX spec (opset-dependent forms included).
#include <gtest/gtest.h>

#include <cmath>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Attribute attr_str(const std::string& v) { Attribute a; a.kind = Attribute::Kind::String; a.s = v; return a; }

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(t.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.data<float>()[i], want[i], tol) << "element " << i;
}

TEST(Activation, GeluExactAndTanh) {
  // exact: 0.5 x (1 + erf(x / sqrt 2)); gelu(1) = 0.8413447461, gelu(-1) = -0.1586552539
  SingleNode exact{"Gelu", "", {}, 20};
  expect_near(run_single_node(exact, {f32({3}, {0, 1, -1})})[0], {0, 0.8413447461f, -0.1586552539f});
  // tanh form at 1: 0.5 (1 + tanh(0.7978845608 * 1.044715)) = 0.8411919906
  SingleNode tanh_form{"Gelu", "", {{"approximate", attr_str("tanh")}}, 20};
  expect_near(run_single_node(tanh_form, {f32({1}, {1})})[0], {0.8411919906f});
}

TEST(Activation, ReluLeakyReluSigmoid) {
  expect_near(run_single_node({"Relu"}, {f32({3}, {-1, 0, 2})})[0], {0, 0, 2});
  SingleNode leaky{"LeakyRelu", "", {{"alpha", attr_float(0.1f)}}};
  expect_near(run_single_node(leaky, {f32({2}, {-10, 3})})[0], {-1, 3});
  // sigmoid(0) = 0.5, sigmoid(2) = 0.8807970780
  expect_near(run_single_node({"Sigmoid"}, {f32({2}, {0, 2})})[0], {0.5f, 0.8807970780f});
}

TEST(Activation, ClipAttributeAndInputForms) {
  SingleNode old{"Clip", "", {{"min", attr_float(-1)}, {"max", attr_float(1)}}, 6};
  expect_near(run_single_node(old, {f32({3}, {-5, 0.5f, 5})})[0], {-1, 0.5f, 1});
  // opset 13: min absent, max as input
  auto y = run_single_node({"Clip", "", {}, 13}, {f32({3}, {-5, 0.5f, 5}), Tensor(), f32({}, {0})})[0];
  expect_near(y, {-5, 0, 0});
}

TEST(Activation, PReluBroadcastsSlope) {
  // slope per channel [2,1] over X [2,2]
  auto y = run_single_node({"PRelu"}, {f32({2, 2}, {-1, 1, -2, 2}), f32({2, 1}, {0.5f, 0.25f})})[0];
  expect_near(y, {-0.5f, 1, -0.5f, 2});
}

TEST(Cast, NumbersAndStrings) {
  SingleNode to_i{"Cast", "", {{"to", attr_int((int64_t)DType::I32)}}};
  auto y = run_single_node(to_i, {f32({3}, {1.9f, -1.9f, 0})})[0];
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{1, -1, 0}));  // truncation toward zero
  SingleNode to_s{"Cast", "", {{"to", attr_int((int64_t)DType::String)}}};
  auto s = run_single_node(to_s, {f32({2}, {0.5f, -3})})[0];
  EXPECT_EQ(s.to_vector<std::string>(), (std::vector<std::string>{"0.5", "-3"}));
  SingleNode to_f{"Cast", "", {{"to", attr_int((int64_t)DType::F32)}}};
  auto f = run_single_node(to_f, {s})[0];
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{0.5f, -3}));
}

TEST(Reduce, AxesAttributeBeforeOpset18InputAfter) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  SingleNode old{"ReduceMean", "", {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}, 13};
  expect_near(run_single_node(old, {x})[0], {2, 5});
  SingleNode now{"ReduceMean", "", {{"keepdims", attr_int(1)}}, 18};
  auto y = run_single_node(now, {x, i64({1}, {0})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  expect_near(y, {2.5f, 3.5f, 4.5f});
  // ReduceSum took axes as an input already in opset 13; no axes = all, unless noop_with_empty_axes
  expect_near(run_single_node({"ReduceSum", "", {}, 13}, {x})[0], {21});
  SingleNode noop{"ReduceSum", "", {{"noop_with_empty_axes", attr_int(1)}}, 13};
  EXPECT_EQ(run_single_node(noop, {x})[0].shape(), (Shape{2, 3}));
}

TEST(Reduce, MiddleAxisAndOtherKinds) {
  // [2,2,2] over axis 1: pairs (x[i,0,k], x[i,1,k])
  Tensor x = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  SingleNode mx{"ReduceMax", "", {{"axes", attr_ints({1})}}, 13};
  expect_near(run_single_node(mx, {x})[0], {3, 4, 7, 8});
  SingleNode l2{"ReduceL2", "", {{"axes", attr_ints({-1})}, {"keepdims", attr_int(0)}}, 13};
  expect_near(run_single_node(l2, {f32({2, 2}, {3, 4, 6, 8})})[0], {5, 10});
  SingleNode lse{"ReduceLogSumExp", "", {{"keepdims", attr_int(0)}}, 13};
  expect_near(run_single_node(lse, {f32({2}, {0, 0})})[0], {std::log(2.0f)});
}

TEST(Reduce, ArgMaxSelectLastIndex) {
  Tensor x = f32({2, 3}, {1, 5, 5, 7, 0, 7});
  SingleNode first{"ArgMax", "", {{"axis", attr_int(1)}, {"keepdims", attr_int(0)}}};
  EXPECT_EQ(run_single_node(first, {x})[0].to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  SingleNode last{"ArgMax", "", {{"axis", attr_int(1)}, {"keepdims", attr_int(0)}, {"select_last_index", attr_int(1)}}};
  EXPECT_EQ(run_single_node(last, {x})[0].to_vector<int64_t>(), (std::vector<int64_t>{2, 2}));
}

TEST(Softmax, Opset11CoercesTo2DOpset13UsesOneAxis) {
  // x [2,2] with axis 0. Opset 11: one softmax over all 4 values (flattened from axis 0).
  Tensor x = f32({2, 2}, {0, 0, 0, 0});
  SingleNode old{"Softmax", "", {{"axis", attr_int(0)}}, 11};
  expect_near(run_single_node(old, {x})[0], {0.25f, 0.25f, 0.25f, 0.25f});
  SingleNode now{"Softmax", "", {{"axis", attr_int(0)}}, 13};
  expect_near(run_single_node(now, {x})[0], {0.5f, 0.5f, 0.5f, 0.5f});
  // softmax([0, ln 3]) = [0.25, 0.75]; log-softmax = [ln 0.25, ln 0.75]
  Tensor y = f32({2}, {0, std::log(3.0f)});
  expect_near(run_single_node({"Softmax", "", {}, 13}, {y})[0], {0.25f, 0.75f});
  expect_near(run_single_node({"LogSoftmax", "", {}, 13}, {y})[0], {std::log(0.25f), std::log(0.75f)});
  expect_near(run_single_node({"Hardmax", "", {}, 13}, {y})[0], {0, 1});
}

TEST(Softmax, LargeValuesStayFinite) {
  expect_near(run_single_node({"Softmax", "", {}, 13}, {f32({2}, {1000, 1000})})[0], {0.5f, 0.5f});
}

TEST(LayerNorm, NormalisesLastAxisWithStats) {
  // rows [1, 3] and [5, 7]: means 2 and 6, variance 1, so normalised [-1, 1]; scale [2, 1], bias [0, 10]
  SingleNode s{"LayerNormalization", "", {{"epsilon", attr_float(0)}}, 17, 3};
  auto out = run_single_node(s, {f32({2, 2}, {1, 3, 5, 7}), f32({2}, {2, 1}), f32({2}, {0, 10})});
  expect_near(out[0], {-2, 11, -2, 11});
  EXPECT_EQ(out[1].shape(), (Shape{2, 1}));
  expect_near(out[1], {2, 6});
  expect_near(out[2], {1, 1});
}

TEST(LayerNorm, MicrosoftDomainForm) {
  SingleNode s{"LayerNormalization", "com.microsoft", {{"epsilon", attr_float(0)}}, 1};
  expect_near(run_single_node(s, {f32({1, 2}, {1, 3}), f32({2}, {1, 1}), f32({2}, {0, 0})})[0], {-1, 1});
}

TEST(LayerNorm, ScaleOfWrongSizeIsBadInput) {
  EXPECT_THROW(run_single_node({"LayerNormalization"}, {f32({1, 2}, {1, 3}), f32({3}, {1, 1, 1})}), BadInput);
}

TEST(Norm, BatchNormInference) {
  // y = (x - mean) / sqrt(var + eps) * scale + B, per channel; eps 0
  SingleNode s{"BatchNormalization", "", {{"epsilon", attr_float(0)}}, 15};
  auto y = run_single_node(s, {f32({1, 2, 2}, {1, 3, 10, 20}), f32({2}, {1, 2}), f32({2}, {0, 1}),
                               f32({2}, {1, 10}), f32({2}, {4, 25})})[0];
  expect_near(y, {0, 1, 1, 5});
}

TEST(Loss, SoftmaxCrossEntropyMean) {
  // two samples, two classes, equal scores: loss = ln 2 each; ignore_index drops the second
  SingleNode s{"SoftmaxCrossEntropyLoss", "", {{"ignore_index", attr_int(1)}}, 13};
  auto y = run_single_node(s, {f32({2, 2}, {0, 0, 5, 5}), i64({2}, {0, 1})})[0];
  EXPECT_EQ(y.shape(), (Shape{}));
  expect_near(y, {std::log(2.0f)});
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(Einsum, MatmulTraceAndImplicitOutput) {
  Attribute eq;
  eq.kind = Attribute::Kind::String;
  auto run = [&](const std::string& e, std::vector<Tensor> in) {
    eq.s = e;
    return run_single_node({"Einsum", "", {{"equation", eq}}, 12}, in)[0];
  };
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}), b = Tensor::from_vector<float>({2, 2}, {5, 6, 7, 8});
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
  EXPECT_EQ(run("ij,jk->ik", {a, b}).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  // implicit output "ij,jk" is "ik" too
  EXPECT_EQ(run("ij, jk", {a, b}).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  // trace and diagonal
  EXPECT_EQ(run("ii->", {a}).to_vector<float>(), (std::vector<float>{5}));
  EXPECT_EQ(run("...ii->...i", {a}).to_vector<float>(), (std::vector<float>{1, 4}));
  // transpose by implicit alphabetical order: "ji" -> output "ij" means transpose
  EXPECT_EQ(run("ji", {a}).to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

Attribute attr_strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::Strings;
  a.strings = std::move(v);
  return a;
}

TEST(TextFeatures, StringNormalizerUnicodeLowerAndStopwords) {
  Attribute lower;
  lower.kind = Attribute::Kind::String;
  lower.s = "LOWER";
  Tensor x(DType::String, {3});
  x.data<std::string>()[0] = "\xC3\x84pfel";  // "Äpfel"
  x.data<std::string>()[1] = "THE";
  x.data<std::string>()[2] = "Birnen";
  SingleNode s{"StringNormalizer", "", {{"case_change_action", lower}, {"stopwords", attr_strings({"the"})}}, 10};
  auto y = run_single_node(s, {x})[0];
  EXPECT_EQ(y.to_vector<std::string>(), (std::vector<std::string>{"\xC3\xA4pfel", "birnen"}));  // "äpfel"
}

TEST(TextFeatures, TfIdfWeightedModes) {
  // tokens 1 2 1 2 3; pool: unigrams {1, 2}, bigram (1, 2) -> counts 2, 2, 2
  Tensor x = Tensor::from_vector<int64_t>({5}, {1, 2, 1, 2, 3});
  auto run = [&](const char* mode) {
    Attribute m;
    m.kind = Attribute::Kind::String;
    m.s = mode;
    Attribute w;
    w.kind = Attribute::Kind::Floats;
    w.floats = {0.5f, 2, 3};
    SingleNode s{"TfIdfVectorizer", "",
                 {{"mode", m}, {"min_gram_length", attr_int(1)}, {"max_gram_length", attr_int(2)},
                  {"max_skip_count", attr_int(0)}, {"ngram_counts", attr_ints({0, 2})},
                  {"ngram_indexes", attr_ints({0, 1, 2})}, {"pool_int64s", attr_ints({1, 2, 1, 2})}, {"weights", w}},
                 9};
    return run_single_node(s, {x})[0].to_vector<float>();
  };
  EXPECT_EQ(run("TF"), (std::vector<float>{2, 2, 2}));
  EXPECT_EQ(run("TFIDF"), (std::vector<float>{1, 4, 6}));
  EXPECT_EQ(run("IDF"), (std::vector<float>{0.5f, 2, 3}));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(Random, BoundsShapesAndCertainOutcomes) {
  Attribute shape = attr_ints({4, 5});
  SingleNode u{"RandomUniform", "", {{"shape", shape}, {"low", attr_float(2)}, {"high", attr_float(3)}}, 1};
  auto y = run_single_node(u, {})[0];
  ASSERT_EQ(y.shape(), (Shape{4, 5}));
  ASSERT_EQ(y.dtype(), DType::F32);
  for (float v : y.to_vector<float>()) {
    EXPECT_GE(v, 2.0f);
    EXPECT_LE(v, 3.0f);
  }
  // probabilities 0 and 1 have only one outcome
  auto b = run_single_node({"Bernoulli", "", {}, 15},
                           {Tensor::from_vector<float>({4}, {0, 1, 1, 0})})[0];
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{0, 1, 1, 0}));
  // a class with log-probability -inf is never drawn
  SingleNode m{"Multinomial", "", {{"sample_size", attr_int(8)}}, 7};
  auto s = run_single_node(m, {Tensor::from_vector<float>({1, 2}, {-INFINITY, 0})})[0];
  ASSERT_EQ(s.dtype(), DType::I32);
  EXPECT_EQ(s.to_vector<int32_t>(), std::vector<int32_t>(8, 1));
}

}  // namespace
}  // namespace kiln::test
