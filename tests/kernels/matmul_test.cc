// MatMul and Gemm: ONNX's conformance cases, literal products worked out by hand, and larger random
// products checked against the definition (a sum over k written out in the test).
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "onnx_node_case.h"
#include "single_node.h"

namespace kiln::test {
namespace {

TEST(MatMulOnnx, Conformance) {
  for (const char* c : {"test_matmul_2d", "test_matmul_3d", "test_matmul_4d"}) expect_onnx_node_case(c, 1e-5);
}

TEST(GemmOnnx, Conformance) {
  for (const char* c : {"test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta", "test_gemm_default_matrix_bias",
                        "test_gemm_default_no_bias", "test_gemm_default_scalar_bias",
                        "test_gemm_default_single_elem_vector_bias", "test_gemm_default_vector_bias",
                        "test_gemm_default_zero_bias", "test_gemm_transposeA", "test_gemm_transposeB"})
    expect_onnx_node_case(c, 1e-5);
}

std::vector<float> floats(const Tensor& t) { return t.to_vector<float>(); }

TEST(MatMul, VectorTimesVectorIsADotProduct) {
  auto y = run_single_node({"MatMul"}, {Tensor::from_vector<float>({3}, {1, 2, 3}),
                                        Tensor::from_vector<float>({3}, {4, 5, 6})})[0];
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_FLOAT_EQ(y.data<float>()[0], 32.f);  // 4 + 10 + 18
}

TEST(MatMul, VectorOperandsDropTheirDimension) {
  Tensor m = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = run_single_node({"MatMul"}, {Tensor::from_vector<float>({2}, {1, 2}), m})[0];
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(floats(y), (std::vector<float>{9, 12, 15}));
  auto z = run_single_node({"MatMul"}, {m, Tensor::from_vector<float>({3}, {1, 0, -1})})[0];
  EXPECT_EQ(z.shape(), (Shape{2}));
  EXPECT_EQ(floats(z), (std::vector<float>{-2, -2}));
  // A stack of matrices times a vector: [2, 1, 3] x [3] -> [2, 1].
  Tensor s = Tensor::from_vector<float>({2, 1, 3}, {1, 1, 1, 2, 0, 1});
  auto w = run_single_node({"MatMul"}, {s, Tensor::from_vector<float>({3}, {1, 2, 3})})[0];
  EXPECT_EQ(w.shape(), (Shape{2, 1}));
  EXPECT_EQ(floats(w), (std::vector<float>{6, 5}));
}

TEST(MatMul, BatchDimensionsBroadcast) {
  // [2, 1, 1, 2] x [3, 2, 1]: batch [2, 1] and [3] broadcast to [2, 3].
  Tensor a = Tensor::from_vector<float>({2, 1, 1, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<float>({3, 2, 1}, {1, 0, 0, 1, 1, 1});
  auto y = run_single_node({"MatMul"}, {a, b})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3, 1, 1}));
  // a0=[1,2]: [1, 2, 3]; a1=[3,4]: [3, 4, 7]
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2, 3, 3, 4, 7}));
}

TEST(MatMul, IntegerAndDoubleTypes) {
  auto yi = run_single_node({"MatMul"}, {Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4}),
                                         Tensor::from_vector<int32_t>({2, 2}, {5, 6, 7, 8})})[0];
  EXPECT_EQ(yi.to_vector<int32_t>(), (std::vector<int32_t>{19, 22, 43, 50}));
  auto yl = run_single_node({"MatMul"}, {Tensor::from_vector<int64_t>({1, 2}, {-3, 1}),
                                         Tensor::from_vector<int64_t>({2, 1}, {4, 5})})[0];
  EXPECT_EQ(yl.to_vector<int64_t>(), (std::vector<int64_t>{-7}));
  auto yd = run_single_node({"MatMul"}, {Tensor::from_vector<double>({1, 2}, {0.5, 0.25}),
                                         Tensor::from_vector<double>({2, 1}, {2, 4})})[0];
  EXPECT_EQ(yd.to_vector<double>(), (std::vector<double>{2.0}));
}

TEST(MatMul, HalfPrecision) {
  Tensor a(DType::F16, {1, 2}), b(DType::F16, {2, 2});
  float av[] = {1.5f, -2.f}, bv[] = {2.f, 1.f, 0.5f, 4.f};
  for (int i = 0; i < 2; ++i) a.data<Half>()[i] = Half(av[i]);
  for (int i = 0; i < 4; ++i) b.data<Half>()[i] = Half(bv[i]);
  for (bool constant : {false, true}) {
    auto y = run_single_node({"MatMul"}, {a, b}, {false, constant})[0];
    ASSERT_EQ(y.dtype(), DType::F16);
    EXPECT_EQ((float)y.data<Half>()[0], 2.f);   // 3 - 1
    EXPECT_EQ((float)y.data<Half>()[1], -6.5f);  // 1.5 - 8
  }
  Tensor ab(DType::BF16, {1, 2}), bb(DType::BF16, {2, 1});
  ab.data<BFloat16>()[0] = BFloat16(3.f), ab.data<BFloat16>()[1] = BFloat16(0.5f);
  bb.data<BFloat16>()[0] = BFloat16(-2.f), bb.data<BFloat16>()[1] = BFloat16(4.f);
  auto yb = run_single_node({"MatMul"}, {ab, bb}, {false, true})[0];
  ASSERT_EQ(yb.dtype(), DType::BF16);
  EXPECT_EQ((float)yb.data<BFloat16>()[0], -4.f);  // -6 + 2
}

TEST(MatMul, MismatchedInnerDimensionIsBadInput) {
  EXPECT_THROW(run_single_node({"MatMul"}, {Tensor::zeros(DType::F32, {2, 3}), Tensor::zeros(DType::F32, {2, 3})}),
               BadInput);
}

TEST(MatMul, EmptyInnerDimensionGivesZeros) {
  auto y = run_single_node({"MatMul"}, {Tensor::zeros(DType::F32, {2, 0}), Tensor::zeros(DType::F32, {0, 3})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  for (float v : floats(y)) EXPECT_EQ(v, 0.f);
}

// Random values and the product written out from the definition.
Tensor random_tensor(Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

std::vector<double> product(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false) {
  // 2-D operands only (a batch is handled by the callers folding rows).
  int64_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1), N = tb ? b.dim(0) : b.dim(1);
  std::vector<double> c(M * N, 0.0);
  const float *pa = a.data<float>(), *pb = b.data<float>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += (double)(ta ? pa[k * M + m] : pa[m * K + k]) * (tb ? pb[n * K + k] : pb[k * N + n]);
      c[m * N + n] = s;
    }
  return c;
}

double max_rel(const Tensor& got, const std::vector<double>& want) {
  double scale = 1e-6, err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(got.data<float>()[i] - want[i]));
  }
  return err / scale;
}

TEST(MatMul, ConstantWeightsServeEveryRowCount) {
  // B is an initializer, so the kernel packs it once; rows change from call to call.
  Tensor b = random_tensor({64, 48}, 7);
  Model m;
  m.set_opset("", 17);
  Node n;
  n.op_type = "MatMul";
  n.inputs = {"a", "b"};
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  m.graph.initializers["b"] = b;
  m.graph.inputs.push_back(ValueInfo{"a", DType::F32});
  m.graph.outputs.push_back(ValueInfo{"y"});
  SessionOptions opt;
  opt.optimization_level = 0;
  Session s(std::move(m), opt);
  std::vector<int64_t> row_counts{1, 5, 128, 3, 128, 77};
  for (int64_t r = 1; r <= 70; ++r) row_counts.push_back(r);  // more shapes than the kernel keeps primitives for
  row_counts.push_back(5);
  for (int64_t rows : row_counts) {
    Tensor a = random_tensor({1, rows, 64}, (uint32_t)rows);
    Tensor y = s.run({{"a", a}}).at("y");
    ASSERT_EQ(y.shape(), (Shape{1, rows, 48}));
    EXPECT_LT(max_rel(y, product(a.reshape({rows, 64}), b)), 1e-5) << rows << " rows";
  }
}

TEST(MatMul, ConcurrentRunsOfOneSession) {
  // One session run from several threads at once, each with its own row count (shared primitive cache).
  Tensor b = random_tensor({32, 16}, 11);
  Model m;
  m.set_opset("", 17);
  Node n;
  n.op_type = "MatMul";
  n.inputs = {"a", "b"};
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  m.graph.initializers["b"] = b;
  m.graph.inputs.push_back(ValueInfo{"a", DType::F32});
  m.graph.outputs.push_back(ValueInfo{"y"});
  SessionOptions opt;
  opt.optimization_level = 0;
  opt.threads = 1;
  Session s(std::move(m), opt);
  std::vector<double> errors(4, 1.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t)
    pool.emplace_back([&, t] {
      double worst = 0;
      for (int i = 0; i < 20; ++i) {
        int64_t rows = 1 + (t * 20 + i) % 9;
        Tensor a = random_tensor({rows, 32}, (uint32_t)(t * 100 + i));
        worst = std::max(worst, max_rel(s.run({{"a", a}}).at("y"), product(a, b)));
      }
      errors[t] = worst;
    });
  for (auto& th : pool) th.join();
  for (double e : errors) EXPECT_LT(e, 1e-5);
}

TEST(MatMul, BatchedProductsMatchTheDefinition) {
  // Attention-like [2, 3, 5, 8] x [2, 3, 8, 6].
  Tensor a = random_tensor({2, 3, 5, 8}, 1), b = random_tensor({2, 3, 8, 6}, 2);
  Tensor y = run_single_node({"MatMul"}, {a, b}, {}, 2)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5, 6}));
  for (int64_t i = 0; i < 6; ++i) {
    Tensor ai = Tensor::view(DType::F32, {5, 8}, a.buffer(), i * 40 * 4);
    Tensor bi = Tensor::view(DType::F32, {8, 6}, b.buffer(), i * 48 * 4);
    Tensor yi = Tensor::view(DType::F32, {5, 6}, y.buffer(), y.offset() + i * 30 * 4);
    EXPECT_LT(max_rel(yi, product(ai, bi)), 1e-5) << "matrix " << i;
  }
}

TEST(Gemm, TransposesAlphaBetaAndBroadcastC) {
  // A^T with A = [[1, 2], [3, 4], [5, 6]] (3x2) -> op(A) = [[1, 3, 5], [2, 4, 6]];
  // B^T with B = [[1, 0, 1], [0, 1, 1]] (2x3) -> op(B) 3x2.
  Tensor a = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 1});
  Tensor c = Tensor::from_vector<float>({2, 1}, {10, 20});
  SingleNode spec{"Gemm", "", {{"transA", attr_int(1)}, {"transB", attr_int(1)}, {"alpha", attr_float(2.f)},
                              {"beta", attr_float(0.5f)}}};
  // op(A) op(B) = [[1+5, 3+5], [2+6, 4+6]] = [[6, 8], [8, 10]]; *2 + 0.5*[10;20]
  std::vector<float> want{17, 21, 26, 30};
  EXPECT_EQ(floats(run_single_node(spec, {a, b, c})[0]), want);
  // The same with B constant (packed once, transposed).
  EXPECT_EQ(floats(run_single_node(spec, {a, b, c}, {false, true, false})[0]), want);
  // Scalar C, beta 1, no transposes: [[1,2],[3,4]] x [[1,1],[0,1]] + 1
  SingleNode plain{"Gemm"};
  auto y = run_single_node(plain, {Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}),
                                   Tensor::from_vector<float>({2, 2}, {1, 1, 0, 1}), Tensor::scalar<float>(1.f)})[0];
  EXPECT_EQ(floats(y), (std::vector<float>{2, 4, 4, 8}));
  // No C at all.
  auto z = run_single_node(plain, {Tensor::from_vector<float>({1, 2}, {1, 2}), Tensor::from_vector<float>({2, 1}, {3, 4})})[0];
  EXPECT_EQ(floats(z), (std::vector<float>{11}));
}

TEST(Gemm, RandomMatchesTheDefinition) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (bool constant_b : {false, true}) {
        int64_t M = 37, K = 70, N = 45;
        Tensor a = random_tensor(ta ? Shape{K, M} : Shape{M, K}, 3), b = random_tensor(tb ? Shape{N, K} : Shape{K, N}, 4);
        Tensor c = random_tensor({N}, 5);
        SingleNode spec{"Gemm", "", {{"transA", attr_int(ta)}, {"transB", attr_int(tb)}, {"alpha", attr_float(0.5f)},
                                    {"beta", attr_float(-1.f)}}};
        Tensor y = run_single_node(spec, {a, b, c}, {false, constant_b, false}, 2)[0];
        auto want = product(a, b, ta, tb);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) want[m * N + n] = 0.5 * want[m * N + n] - c.data<float>()[n];
        EXPECT_LT(max_rel(y, want), 1e-5) << ta << tb << constant_b;
      }
}

TEST(Gemm, IntegerTypes) {
  SingleNode spec{"Gemm", "", {{"beta", attr_float(2.f)}}};
  auto y = run_single_node(spec, {Tensor::from_vector<int64_t>({1, 2}, {2, 3}), Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4}),
                                  Tensor::from_vector<int64_t>({2}, {1, -1})})[0];
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{13, 14}));  // [2+9, 4+12] + 2*[1, -1]
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(FusedMatMul, AlphaAndTransposes) {
  // ONNX Runtime's com.microsoft FusedMatMul: alpha * op(A) x op(B).
  Tensor a = random_tensor({2, 5, 7}, 21), bt = random_tensor({6, 7}, 22);  // B stored transposed: N x K
  for (bool constant : {false, true}) {
    SingleNode spec{"FusedMatMul", "com.microsoft", {{"alpha", attr_float(0.5f)}, {"transB", attr_int(1)}}, 1};
    Tensor y = run_single_node(spec, {a, bt}, {false, constant})[0];
    ASSERT_EQ(y.shape(), (Shape{2, 5, 6}));
    auto want = product(a.reshape({10, 7}), bt, false, true);
    for (auto& v : want) v *= 0.5;
    EXPECT_LT(max_rel(y, want), 1e-5) << constant;
  }
  // transA on a batch: A stored [2, 7, 5].
  Tensor at = random_tensor({2, 7, 5}, 23), b = random_tensor({7, 3}, 24);
  Tensor y = run_single_node({"FusedMatMul", "com.microsoft", {{"transA", attr_int(1)}}, 1}, {at, b})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 5, 3}));
  for (int64_t i = 0; i < 2; ++i) {
    Tensor ai = Tensor::view(DType::F32, {7, 5}, at.buffer(), i * 35 * 4);
    Tensor yi = Tensor::view(DType::F32, {5, 3}, y.buffer(), y.offset() + i * 15 * 4);
    EXPECT_LT(max_rel(yi, product(ai, b, true, false)), 1e-5);
  }
}

TEST(FusedGemm, ActivationAfterTheProduct) {
  // [[1, -2]] x [[1, 0], [1, 1]] + [0.5, 0] = [-0.5, -2]; Relu -> 0, 0; LeakyRelu(0.1) -> -0.05, -0.2.
  Tensor a = Tensor::from_vector<float>({1, 2}, {1, -2}), b = Tensor::from_vector<float>({2, 2}, {1, 0, 1, 1});
  Tensor c = Tensor::from_vector<float>({2}, {0.5f, 0});
  Attribute relu;
  relu.kind = Attribute::Kind::String;
  relu.s = "Relu";
  auto y = run_single_node({"FusedGemm", "com.microsoft", {{"activation", relu}}, 1}, {a, b, c})[0];
  EXPECT_EQ(floats(y), (std::vector<float>{0, 0}));
  Attribute leaky = relu;
  leaky.s = "LeakyRelu";
  auto z = run_single_node({"FusedGemm", "com.microsoft", {{"activation", leaky}, {"activation_alpha", attr_float(0.1f)}}, 1},
                           {a, b, c})[0];
  EXPECT_LT(max_rel(z, {-0.05, -0.2}), 1e-6);
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(MatMulBias, BiasAddedOnEveryPath) {
  // kiln:MatMulBias = MatMul + bias along the last axis; packed constant weights (oneDNN adds the
  // bias) and batched weights (added afterwards).
  Tensor a = random_tensor({2, 3, 4}, 31), w = random_tensor({4, 5}, 32), bias = random_tensor({5}, 33);
  SingleNode spec{"MatMulBias", "kiln", {}, 1};
  for (bool constant : {false, true}) {
    Tensor y = run_single_node(spec, {a, w, bias}, {false, constant, true})[0];
    auto want = product(a.reshape({6, 4}), w);
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t n = 0; n < 5; ++n) want[r * 5 + n] += bias.data<float>()[n];
    EXPECT_LT(max_rel(y, want), 1e-5) << constant;
  }
  Tensor wb = random_tensor({2, 4, 5}, 34);
  Tensor y = run_single_node(spec, {a, wb, bias})[0];
  for (int64_t i = 0; i < 2; ++i) {
    Tensor ai = Tensor::view(DType::F32, {3, 4}, a.buffer(), i * 12 * 4);
    Tensor wi = Tensor::view(DType::F32, {4, 5}, wb.buffer(), i * 20 * 4);
    Tensor yi = Tensor::view(DType::F32, {3, 5}, y.buffer(), y.offset() + i * 15 * 4);
    auto want = product(ai, wi);
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t n = 0; n < 5; ++n) want[r * 5 + n] += bias.data<float>()[n];
    EXPECT_LT(max_rel(yi, want), 1e-5);
  }
}

}  // namespace
}  // namespace kiln::test
