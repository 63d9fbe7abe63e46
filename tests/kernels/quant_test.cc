// Quantization ops: ONNX's conformance cases, literal cases worked out by hand from the spec
// (round half to even, saturation), random 8-bit products checked against the definition, and ONNX
// Runtime's dynamically quantized fixture models against ONNX Runtime's own outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/tensor_json.h"
#include "onnx_node_case.h"
#include "single_node.h"

namespace kiln::test {
namespace {

TEST(QuantOnnx, Conformance) {
  for (const char* c : {"test_dynamicquantizelinear", "test_dynamicquantizelinear_max_adjusted",
                        "test_dynamicquantizelinear_min_adjusted", "test_quantizelinear", "test_quantizelinear_axis",
                        "test_dequantizelinear", "test_dequantizelinear_axis", "test_matmulinteger",
                        "test_qlinearmatmul_2D", "test_qlinearmatmul_3D"}) {
    SCOPED_TRACE(c);
    expect_onnx_node_case(c, 0);
  }
}

template <typename T>
std::vector<T> values(const Tensor& t) { return t.to_vector<T>(); }

TEST(DynamicQuantizeLinear, RoundsHalfToEvenWithScaleOne) {
  // Range [0, 255] gives scale 1 and zero point 0, so ties stay ties.
  auto out = run_single_node({"DynamicQuantizeLinear", "", {}, 11, 3},
                             {Tensor::from_vector<float>({6}, {0, 0.5f, 1.5f, 2.5f, 254.5f, 255})});
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{0, 0, 2, 2, 254, 255}));
  EXPECT_EQ(out[1].data<float>()[0], 1.f);
  EXPECT_EQ(out[2].data<uint8_t>()[0], 0);
}

TEST(DynamicQuantizeLinear, NegativeOnlyInputPutsZeroAtTheTop) {
  // Range [-255, 0]: scale 1, zero point 255; -0.5 -> -0 + 255, -1.5 -> -2 + 255.
  auto out = run_single_node({"DynamicQuantizeLinear", "", {}, 11, 3},
                             {Tensor::from_vector<float>({3}, {-255, -0.5f, -1.5f})});
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{0, 255, 253}));
  EXPECT_EQ(out[2].data<uint8_t>()[0], 255);
}

TEST(DynamicQuantizeLinear, AllZerosGiveScaleOne) {
  // ONNX Runtime's convention for an empty range.
  auto out = run_single_node({"DynamicQuantizeLinear", "", {}, 11, 3}, {Tensor::zeros(DType::F32, {40})});
  for (uint8_t v : values<uint8_t>(out[0])) EXPECT_EQ(v, 0);
  EXPECT_EQ(out[1].data<float>()[0], 1.f);
  EXPECT_EQ(out[2].data<uint8_t>()[0], 0);
}

TEST(QuantizeLinear, PerAxisInt8Saturates) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 3, -1.25f, 200, -300, 0.25f});
  Tensor s = Tensor::from_vector<float>({3}, {1, 2, 0.5f});
  Tensor z = Tensor::from_vector<int8_t>({3}, {0, 1, -1});
  auto y = run_single_node({"QuantizeLinear", "", {{"axis", attr_int(1)}}, 13}, {x, s, z})[0];
  ASSERT_EQ(y.dtype(), DType::I8);
  // col0: 1, 200->127; col1: 1.5->2 (+1), -150+1 -> -128; col2: -2.5->-2 (-1), 0.5->0 (-1)
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{1, 3, -3, 127, -128, -1}));
}

TEST(QuantizeLinear, BlockedScales) {
  Tensor x = Tensor::from_vector<float>({1, 4}, {1, 2.5f, 10, -30});
  Tensor s = Tensor::from_vector<float>({1, 2}, {1, 10});
  Tensor z = Tensor::from_vector<uint8_t>({1, 2}, {0, 100});
  auto y = run_single_node({"QuantizeLinear", "", {{"axis", attr_int(1)}, {"block_size", attr_int(2)}}, 21},
                           {x, s, z})[0];
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{1, 2, 101, 97}));
}

TEST(QuantizeLinear, DefaultsToUint8AndSixteenBitTypes) {
  auto y = run_single_node({"QuantizeLinear", "", {}, 13},
                           {Tensor::from_vector<float>({3}, {-1, 0.5f, 300}), Tensor::scalar<float>(1.f)})[0];
  ASSERT_EQ(y.dtype(), DType::U8);
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 0, 255}));
  auto y16 = run_single_node({"QuantizeLinear", "", {}, 21},
                             {Tensor::from_vector<float>({2}, {70000, 1.5f}), Tensor::scalar<float>(1.f),
                              Tensor::scalar<uint16_t>(0)})[0];
  EXPECT_EQ(values<uint16_t>(y16), (std::vector<uint16_t>{65535, 2}));
}

TEST(DequantizeLinear, PerAxisAndInt32) {
  Tensor x = Tensor::from_vector<int8_t>({2, 2}, {1, -2, 3, 4});
  auto y = run_single_node({"DequantizeLinear", "", {{"axis", attr_int(0)}}, 13},
                           {x, Tensor::from_vector<float>({2}, {0.5f, 2}), Tensor::from_vector<int8_t>({2}, {1, -1})})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, -1.5f, 8, 10}));
  auto yi = run_single_node({"DequantizeLinear", "", {}, 13},
                            {Tensor::from_vector<int32_t>({2}, {5, -7}), Tensor::scalar<float>(0.5f)})[0];
  EXPECT_EQ(values<float>(yi), (std::vector<float>{2.5f, -3.5f}));
}

TEST(MatMulInteger, ZeroPointsPerTensorAndPerColumn) {
  Tensor a = Tensor::from_vector<uint8_t>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<int8_t>({2, 2}, {1, -1, 2, 0});
  // (A - 1) = [[0, 1], [2, 3]]; (B - [0, -1]) = [[1, 0], [2, 1]]
  for (bool constant : {false, true}) {
    auto y = run_single_node({"MatMulInteger", "", {}, 10},
                             {a, b, Tensor::scalar<uint8_t>(1), Tensor::from_vector<int8_t>({2}, {0, -1})},
                             {false, constant})[0];
    ASSERT_EQ(y.dtype(), DType::I32);
    EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{2, 1, 8, 3})) << constant;
  }
}

TEST(MatMulInteger, Uint8Weights) {
  Tensor a = Tensor::from_vector<uint8_t>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<uint8_t>({2, 2}, {200, 0, 255, 128});
  // B - 128 = [[72, -128], [127, 0]]
  for (bool constant : {false, true}) {
    auto y = run_single_node({"MatMulInteger", "", {}, 10}, {a, b, Tensor(), Tensor::scalar<uint8_t>(128)},
                             {false, constant})[0];
    EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{326, -128, 724, -384})) << constant;
  }
}

// The definition, summed in int64.
std::vector<int64_t> int_product(const std::vector<int>& a, const std::vector<int>& b, int64_t M, int64_t K, int64_t N,
                                 int za, const std::vector<int>& zb) {
  std::vector<int64_t> c(M * N, 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) c[m * N + n] += (int64_t)(a[m * K + k] - za) * (b[k * N + n] - zb[n]);
  return c;
}

template <typename T>
Tensor random_8bit(Shape s, std::vector<int>& vals, std::mt19937& rng) {
  Tensor t(dtype_of<T>(), s);
  std::uniform_int_distribution<int> u(std::is_signed_v<T> ? -128 : 0, std::is_signed_v<T> ? 127 : 255);
  vals.resize((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = (T)(vals[i] = u(rng));
  return t;
}

template <typename TA, typename TB>
void check_random_matmulinteger(bool constant, bool batched) {
  std::mt19937 rng(42);
  int64_t B = batched ? 3 : 1, M = 19, K = 300, N = 37;
  std::vector<int> av, bv;
  Tensor a = random_8bit<TA>({B, M, K}, av, rng);
  Tensor b = random_8bit<TB>(batched ? Shape{B, K, N} : Shape{K, N}, bv, rng);
  int za = std::is_signed_v<TA> ? -3 : 131;
  std::vector<int> zb(N);
  Tensor zbt(dtype_of<TB>(), {N});
  for (int64_t n = 0; n < N; ++n) zbt.data<TB>()[n] = (TB)(zb[n] = (int)(n * 7 % 50) - (std::is_signed_v<TB> ? 25 : 0));
  Tensor y = run_single_node({"MatMulInteger", "", {}, 10}, {a, b, Tensor::scalar<TA>((TA)za), zbt},
                           {false, constant}, 2)[0];
  ASSERT_EQ(y.shape(), (Shape{B, M, N}));
  for (int64_t i = 0; i < B; ++i) {
    std::vector<int> ai(av.begin() + i * M * K, av.begin() + (i + 1) * M * K);
    std::vector<int> bi = batched ? std::vector<int>(bv.begin() + i * K * N, bv.begin() + (i + 1) * K * N) : bv;
    auto want = int_product(ai, bi, M, K, N, za, zb);
    for (int64_t j = 0; j < M * N; ++j) ASSERT_EQ(y.data<int32_t>()[i * M * N + j], want[j]) << i << " " << j;
  }
}

TEST(MatMulInteger, RandomProductsMatchTheDefinition) {
  for (bool constant : {false, true}) {
    check_random_matmulinteger<uint8_t, int8_t>(constant, false);
    check_random_matmulinteger<uint8_t, uint8_t>(constant, false);
    check_random_matmulinteger<int8_t, int8_t>(constant, false);
  }
  check_random_matmulinteger<uint8_t, int8_t>(false, true);
}

TEST(MatMulIntegerToFloat, ScalesZeroPointsAndBias) {
  auto y = run_single_node({"MatMulIntegerToFloat", "com.microsoft", {}, 1},
                           {Tensor::from_vector<uint8_t>({1, 1}, {3}), Tensor::from_vector<int8_t>({1, 2}, {2, -4}),
                            Tensor::scalar<float>(0.5f), Tensor::from_vector<float>({2}, {1, 0.25f}),
                            Tensor::scalar<uint8_t>(1), Tensor(), Tensor::from_vector<float>({2}, {1, 0})})[0];
  // (3 - 1) * [2, -4] = [4, -8]; * 0.5 * [1, 0.25] = [2, -1]; + [1, 0]
  EXPECT_EQ(values<float>(y), (std::vector<float>{3, -1}));
}

TEST(DynamicQuantizeMatMul, QuantizesAThenMultiplies) {
  // A = [0, 255] quantizes exactly (scale 1, zero point 0); (0*1 + 255*2) * 1 * 0.5 + 1.
  auto y = run_single_node({"DynamicQuantizeMatMul", "com.microsoft", {}, 1},
                           {Tensor::from_vector<float>({1, 2}, {0, 255}), Tensor::from_vector<int8_t>({2, 1}, {1, 2}),
                            Tensor::scalar<float>(0.5f), Tensor(), Tensor::from_vector<float>({1}, {1})},
                           {false, true})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{256}));
}

TEST(QLinearMatMul, Int8OutputSaturates) {
  // a - 0 = [[10, 20]], b - 0 = [[1], [2]] -> 50; real = 50 * 0.1 * 1 = 5; / y_scale 0.02 = 250 -> 127.
  auto y = run_single_node({"QLinearMatMul", "", {}, 10},
                           {Tensor::from_vector<int8_t>({1, 2}, {10, 20}), Tensor::scalar<float>(0.1f),
                            Tensor::scalar<int8_t>(0), Tensor::from_vector<int8_t>({2, 1}, {1, 2}),
                            Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0), Tensor::scalar<float>(0.02f),
                            Tensor::scalar<int8_t>(0)})[0];
  ASSERT_EQ(y.dtype(), DType::I8);
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{127}));
}

TEST(QuantOps, BadTypesAreUnsupported) {
  EXPECT_THROW(run_single_node({"MatMulInteger", "", {}, 10},
                               {Tensor::zeros(DType::F32, {2, 2}), Tensor::zeros(DType::I8, {2, 2})}),
               Unsupported);
  EXPECT_THROW(run_single_node({"QuantizeLinear", "", {{"axis", attr_int(1)}}, 13},
                               {Tensor::zeros(DType::F32, {2, 3}), Tensor::zeros(DType::F32, {2})}),
               BadInput);
}

// ONNX Runtime's quantize_dynamic output for the shared models, against ONNX Runtime's outputs.
TEST(QuantizedFixtures, MatchOnnxRuntime) {
  for (const char* model : {"bert-tiny", "distilbert-tiny"}) {
    for (int c = 0; c < 2; ++c) {
      SCOPED_TRACE(std::string(model) + " case " + std::to_string(c));
      std::string dir = fixture(std::string("models/") + model);
      auto s = std::make_unique<Session>(dir + "/model_quantized.onnx");
      NamedTensors in = read_tensors_json(dir + "/ref/case" + std::to_string(c) + "_inputs.json");
      NamedTensors want = read_tensors_json(dir + "/ref/ort_quantized_case" + std::to_string(c) + "_outputs.json");
      NamedTensors got = s->run(in);
      // Integer products are exact in both runtimes; only float rounding elsewhere remains (measured
      // 7e-10 .. 7e-8), so 1e-5 catches a zero point or rounding step off by one.
      ASSERT_FALSE(want.empty());
      for (const auto& [name, ref] : want) EXPECT_LE(relative_error(got.at(name), ref), 1e-5) << name;
    }
  }
}

}  // namespace
}  // namespace kiln::test
