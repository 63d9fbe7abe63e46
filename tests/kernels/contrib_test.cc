// com.microsoft fused ops against the unfused computation they stand for, written out here from
// ONNX Runtime's ContribOperators.md (projection, heads, scaled scores, mask, softmax, context;
// add then layer-normalise; the GELU formulas).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "single_node.h"

namespace kiln::test {
namespace {

const char* kMs = "com.microsoft";

Tensor random_tensor(Shape s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

double max_abs_diff(const Tensor& a, const std::vector<double>& b) {
  EXPECT_EQ(a.numel(), (int64_t)b.size());
  double e = 0;
  for (size_t i = 0; i < b.size(); ++i) e = std::max(e, std::fabs(a.data<float>()[i] - b[i]));
  return e;
}

TEST(GeluFamily, Formulas) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {-1, 0, 1, 2.5f});
  Tensor bias = Tensor::from_vector<float>({2}, {0.5f, -0.25f});
  auto erf_gelu = [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); };
  auto tanh_gelu = [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); };
  std::vector<double> xs{-1, 0, 1, 2.5}, xb{-0.5, -0.25, 1.5, 2.25};
  std::vector<double> g, bg, fg, fgb, qg;
  for (double v : xs) g.push_back(erf_gelu(v)), fg.push_back(tanh_gelu(v)), qg.push_back(v / (1 + std::exp(-1.702 * v)));
  for (double v : xb) bg.push_back(erf_gelu(v)), fgb.push_back(tanh_gelu(v));
  EXPECT_NEAR(g[2], 0.8413447, 1e-6);  // the textbook value of GELU(1)
  EXPECT_LT(max_abs_diff(run_single_node({"Gelu", kMs, {}, 1}, {x})[0], g), 1e-6);
  EXPECT_LT(max_abs_diff(run_single_node({"BiasGelu", kMs, {}, 1}, {x, bias})[0], bg), 1e-6);
  EXPECT_LT(max_abs_diff(run_single_node({"FastGelu", kMs, {}, 1}, {x})[0], fg), 1e-6);
  EXPECT_LT(max_abs_diff(run_single_node({"FastGelu", kMs, {}, 1}, {x, bias})[0], fgb), 1e-6);
  EXPECT_LT(max_abs_diff(run_single_node({"QuickGelu", kMs, {}, 1}, {x})[0], qg), 1e-6);
}

// Layer norm of one row, the textbook way.
std::vector<double> layer_norm(const std::vector<double>& v, const float* gamma, const float* beta, double eps) {
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  std::vector<double> y;
  for (size_t i = 0; i < v.size(); ++i) y.push_back((v[i] - mean) / std::sqrt(var + eps) * gamma[i] + (beta ? beta[i] : 0));
  return y;
}

TEST(SkipLayerNormalization, LiteralRow) {
  // [0, 1, 2] + [1, 1, 1] = [1, 2, 3]: mean 2, variance 2/3 -> (-1.2247449, 0, 1.2247449).
  auto out = run_single_node({"SkipLayerNormalization", kMs, {{"epsilon", attr_float(0.f)}}, 1, 4},
                             {Tensor::from_vector<float>({1, 1, 3}, {0, 1, 2}), Tensor::from_vector<float>({1, 1, 3}, {1, 1, 1}),
                              Tensor::from_vector<float>({3}, {1, 1, 2}), Tensor::from_vector<float>({3}, {0, 0, 1})});
  EXPECT_LT(max_abs_diff(out[0], {-1.2247449, 0, 1 + 2 * 1.2247449}), 1e-6);
  EXPECT_LT(max_abs_diff(out[1], {2.0}), 1e-6);
  EXPECT_LT(max_abs_diff(out[2], {1.2247449}), 1e-6);  // 1 / sqrt(2/3)
  EXPECT_LT(max_abs_diff(out[3], {1, 2, 3}), 1e-6);
}

TEST(SkipLayerNormalization, RandomWithBiasAndSharedSkip) {
  int64_t B = 2, S = 3, H = 16;
  Tensor x = random_tensor({B, S, H}, 1), skip = random_tensor({S, H}, 2);
  Tensor gamma = random_tensor({H}, 3), beta = random_tensor({H}, 4), bias = random_tensor({H}, 5);
  auto y = run_single_node({"SkipLayerNormalization", kMs, {{"epsilon", attr_float(1e-5f)}}, 1}, {x, skip, gamma, beta, bias})[0];
  std::vector<double> want;
  for (int64_t r = 0; r < B * S; ++r) {
    std::vector<double> v;
    for (int64_t i = 0; i < H; ++i)
      v.push_back((double)x.data<float>()[r * H + i] + skip.data<float>()[(r % S) * H + i] + bias.data<float>()[i]);
    for (double d : layer_norm(v, gamma.data<float>(), beta.data<float>(), 1e-5)) want.push_back(d);
  }
  EXPECT_LT(max_abs_diff(y, want), 1e-5);
}

TEST(EmbedLayerNormalization, SumsThreeTablesThenNormalises) {
  int64_t H = 4;
  Tensor ids = Tensor::from_vector<int32_t>({1, 2}, {2, 0});
  Tensor seg = Tensor::from_vector<int32_t>({1, 2}, {0, 1});
  Tensor word = random_tensor({3, H}, 1), pos = random_tensor({5, H}, 2), segt = random_tensor({2, H}, 3);
  Tensor gamma = random_tensor({H}, 4), beta = random_tensor({H}, 5);
  Tensor mask = Tensor::from_vector<int32_t>({1, 2}, {1, 0});
  auto out = run_single_node({"EmbedLayerNormalization", kMs, {{"epsilon", attr_float(1e-5f)}}, 1, 2},
                             {ids, seg, word, pos, segt, gamma, beta, mask});
  std::vector<double> want;
  int32_t idv[] = {2, 0}, sgv[] = {0, 1};
  for (int s = 0; s < 2; ++s) {
    std::vector<double> v;
    for (int64_t i = 0; i < H; ++i)
      v.push_back((double)word.data<float>()[idv[s] * H + i] + pos.data<float>()[s * H + i] + segt.data<float>()[sgv[s] * H + i]);
    for (double d : layer_norm(v, gamma.data<float>(), beta.data<float>(), 1e-5)) want.push_back(d);
  }
  EXPECT_LT(max_abs_diff(out[0], want), 1e-5);
  EXPECT_EQ(out[1].to_vector<int32_t>(), (std::vector<int32_t>{1}));
}

// Attention unfused: x W + b, split heads, softmax(Q K^T / sqrt(d) + mask) V, heads merged.
// `keep(b, s, t)` says whether query s of batch b may see key t (past keys come first).
template <typename Keep>
std::vector<double> attention_reference(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t heads,
                                        const Tensor* past, Keep keep) {
  int64_t B = x.dim(0), S = x.dim(1), Hin = x.dim(2), Htot = w.dim(1), H = Htot / 3, D = H / heads;
  int64_t P = past ? past->dim(3) : 0, T = P + S;
  std::vector<double> qkv(B * S * Htot);
  for (int64_t r = 0; r < B * S; ++r)
    for (int64_t j = 0; j < Htot; ++j) {
      double s = bias.data<float>()[j];
      for (int64_t i = 0; i < Hin; ++i) s += (double)x.data<float>()[r * Hin + i] * w.data<float>()[i * Htot + j];
      qkv[r * Htot + j] = s;
    }
  auto key = [&](int64_t b, int64_t h, int64_t t, int64_t d, int which) -> double {
    if (t < P) return past->data<float>()[(((which - 1) * B + b) * heads + h) * P * D + t * D + d];
    return qkv[(b * S + t - P) * Htot + which * H + h * D + d];
  };
  std::vector<double> y(B * S * H);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < S; ++s) {
        std::vector<double> sc(T);
        double mx = -1e300;
        for (int64_t t = 0; t < T; ++t) {
          double v = 0;
          for (int64_t d = 0; d < D; ++d) v += qkv[(b * S + s) * Htot + h * D + d] * key(b, h, t, d, 1);
          v /= std::sqrt((double)D);
          if (!keep(b, s, t)) v += -10000.0;
          sc[t] = v;
          mx = std::max(mx, v);
        }
        double sum = 0;
        for (auto& v : sc) sum += (v = std::exp(v - mx));
        for (int64_t d = 0; d < D; ++d) {
          double o = 0;
          for (int64_t t = 0; t < T; ++t) o += sc[t] / sum * key(b, h, t, d, 2);
          y[(b * S + s) * H + h * D + d] = o;
        }
      }
  return y;
}

TEST(Attention, NoMask) {
  Tensor x = random_tensor({2, 3, 8}, 1), w = random_tensor({8, 24}, 2), bias = random_tensor({24}, 3);
  for (bool constant_w : {false, true}) {
    auto y = run_single_node({"Attention", kMs, {{"num_heads", attr_int(2)}}, 1}, {x, w, bias}, {false, constant_w})[0];
    ASSERT_EQ(y.shape(), (Shape{2, 3, 8}));
    EXPECT_LT(max_abs_diff(y, attention_reference(x, w, bias, 2, nullptr, [](auto...) { return true; })), 1e-5);
  }
}

TEST(Attention, MaskForms) {
  Tensor x = random_tensor({2, 4, 8}, 4), w = random_tensor({8, 24}, 5), bias = random_tensor({24}, 6);
  SingleNode spec{"Attention", kMs, {{"num_heads", attr_int(4)}}, 1};
  // Raw 2-D mask: batch 0 sees keys 0..2, batch 1 sees keys 1..3.
  Tensor raw = Tensor::from_vector<int32_t>({2, 4}, {1, 1, 1, 0, 0, 1, 1, 1});
  auto y = run_single_node(spec, {x, w, bias, raw})[0];
  EXPECT_LT(max_abs_diff(y, attention_reference(x, w, bias, 4, nullptr, [&](int64_t b, int64_t, int64_t t) {
              return raw.data<int32_t>()[b * 4 + t] != 0;
            })), 1e-5);
  // Lengths (right padding): 2 and 4 valid keys.
  Tensor len = Tensor::from_vector<int32_t>({2}, {2, 4});
  auto y1 = run_single_node(spec, {x, w, bias, len})[0];
  EXPECT_LT(max_abs_diff(y1, attention_reference(x, w, bias, 4, nullptr, [](int64_t b, int64_t, int64_t t) {
              return t < (b == 0 ? 2 : 4);
            })), 1e-5);
  // Unidirectional: key t visible to query s when t <= s.
  SingleNode causal{"Attention", kMs, {{"num_heads", attr_int(4)}, {"unidirectional", attr_int(1)}}, 1};
  auto y2 = run_single_node(causal, {x, w, bias})[0];
  EXPECT_LT(max_abs_diff(y2, attention_reference(x, w, bias, 4, nullptr, [](int64_t, int64_t s, int64_t t) {
              return t <= s;
            })), 1e-5);
}

TEST(Attention, PastAndPresent) {
  int64_t B = 1, S = 2, heads = 2, D = 4, P = 3;
  Tensor x = random_tensor({B, S, 8}, 7), w = random_tensor({8, 24}, 8), bias = random_tensor({24}, 9);
  Tensor past = random_tensor({2, B, heads, P, D}, 10);
  SingleNode spec{"Attention", kMs, {{"num_heads", attr_int(2)}, {"unidirectional", attr_int(1)}}, 1, 2};
  auto out = run_single_node(spec, {x, w, bias, Tensor(), past});
  EXPECT_LT(max_abs_diff(out[0], attention_reference(x, w, bias, heads, &past, [&](int64_t, int64_t s, int64_t t) {
              return t <= P + s;
            })), 1e-5);
  ASSERT_EQ(out[1].shape(), (Shape{2, B, heads, P + S, D}));
  // The present keys start with the past ones.
  for (int64_t i = 0; i < P * D; ++i) EXPECT_EQ(out[1].data<float>()[i], past.data<float>()[i]);
}

// Shapes past the kernels' register tiles (37 queries, 16-wide heads): Q, K and V read in
// place from the projection's rows, against the float64 reference.
TEST(Attention, BlocksOfRealSizeMatchFloat64) {
  Tensor x = random_tensor({2, 37, 64}, 11), w = random_tensor({64, 192}, 12), bias = random_tensor({192}, 13);
  std::vector<int32_t> m(2 * 37, 1);
  for (int t = 30; t < 37; ++t) m[37 + t] = 0;  // batch 1: the last 7 keys are padding
  Tensor raw = Tensor::from_vector<int32_t>({2, 37}, m);
  auto y = run_single_node({"Attention", kMs, {{"num_heads", attr_int(4)}}, 1}, {x, w, bias, raw}, {false, true})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 37, 64}));
  EXPECT_LT(max_abs_diff(y, attention_reference(x, w, bias, 4, nullptr, [&](int64_t b, int64_t, int64_t t) {
              return m[b * 37 + t] != 0;
            })), 2e-5);  // the float32 projection's own rounding over 64 terms is ~1e-5 here
}

TEST(ContribOps, FloatOnly) {
  EXPECT_THROW(run_single_node({"Gelu", kMs, {}, 1}, {Tensor::zeros(DType::F64, {2})}), Unsupported);
}

}  // namespace
}  // namespace kiln::test
