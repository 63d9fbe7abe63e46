// Binary arithmetic, unary math, comparisons, logic and Where: literal cases worked out by hand
// from the ONNX spec and numpy's broadcasting rule.
#include <gtest/gtest.h>

#include <cmath>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor i32(Shape s, std::vector<int32_t> v) { return Tensor::from_vector<int32_t>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor b8(Shape s, std::vector<bool> v) { return Tensor::from_vector<bool>(std::move(s), v); }
Attribute attr_str(const std::string& v) { Attribute a; a.kind = Attribute::Kind::String; a.s = v; return a; }

TEST(Arith, BroadcastRowAndColumn) {
  // [2,1] + [3] -> [2,3]: a[i] + b[j]
  auto y = run_single_node({"Add"}, {f32({2, 1}, {10, 20}), f32({3}, {1, 2, 3})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{11, 12, 13, 21, 22, 23}));
  // [3] - [2,1]
  auto z = run_single_node({"Sub"}, {f32({3}, {1, 2, 3}), f32({2, 1}, {10, 20})})[0];
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{-9, -8, -7, -19, -18, -17}));
}

TEST(Arith, MiddleAxisBroadcastMatchesIndexFormula) {
  // [2,3,4] * [3,1] on 4 threads, checked element by element against y[i,j,k] = a[i,j,k] * b[j].
  std::vector<float> a(24), b{2, 3, 5};
  for (int i = 0; i < 24; ++i) a[i] = (float)i;
  auto y = run_single_node({"Mul"}, {f32({2, 3, 4}, a), f32({3, 1}, b)}, {}, 4)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(y.data<float>()[i * 12 + j * 4 + k], (float)(i * 12 + j * 4 + k) * b[j]);
}

TEST(Arith, IncompatibleShapesAreBadInput) {
  EXPECT_THROW(run_single_node({"Add"}, {f32({2}, {1, 2}), f32({3}, {1, 2, 3})}), BadInput);
}

TEST(Arith, IntegerDivisionTruncatesAndSurvivesZero) {
  auto y = run_single_node({"Div"}, {i32({4}, {7, -7, 5, 3}), i32({4}, {2, 2, 0, -1})})[0];
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{3, -3, 0, -3}));
}

TEST(Arith, Float16ComputedInFloat) {
  Tensor a(DType::F16, {2}), b(DType::F16, {2});
  a.data<Half>()[0] = Half(1.5f);
  a.data<Half>()[1] = Half(-2.0f);
  b.data<Half>()[0] = Half(0.25f);
  b.data<Half>()[1] = Half(4.0f);
  auto y = run_single_node({"Mul"}, {a, b})[0];
  ASSERT_EQ(y.dtype(), DType::F16);
  EXPECT_EQ((float)y.data<Half>()[0], 0.375f);
  EXPECT_EQ((float)y.data<Half>()[1], -8.0f);
}

TEST(Arith, LegacyBroadcastAxis) {
  // opset 6: B [3] aligned at axis 1 of A [3,2]: y[i,j] = a[i,j] + b[i]
  SingleNode s{"Add", "", {{"broadcast", attr_int(1)}, {"axis", attr_int(0)}}, 6};
  auto y = run_single_node(s, {f32({3, 2}, {0, 0, 0, 0, 0, 0}), f32({3}, {1, 2, 3})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 3, 3}));
}

TEST(Pow, SquareAndMixedTypes) {
  auto y = run_single_node({"Pow"}, {f32({3}, {-3, 0.5f, 2}), f32({}, {2})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{9, 0.25f, 4}));
  auto z = run_single_node({"Pow"}, {i64({3}, {2, 3, 10}), f32({3}, {3, 2, 0})})[0];
  ASSERT_EQ(z.dtype(), DType::I64);
  EXPECT_EQ(z.to_vector<int64_t>(), (std::vector<int64_t>{8, 9, 1}));
}

TEST(Mod, SignFollowsDivisorOrDividend) {
  // Python: -7 % 3 = 2, 7 % -3 = -2; C fmod: -7 fmod 3 = -1, 7 fmod -3 = 1
  auto y = run_single_node({"Mod"}, {i32({2}, {-7, 7}), i32({2}, {3, -3})})[0];
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{2, -2}));
  SingleNode s{"Mod", "", {{"fmod", attr_int(1)}}};
  auto z = run_single_node(s, {f32({2}, {-7, 7}), f32({2}, {3, -3})})[0];
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{-1, 1}));
}

TEST(BitShift, LeftAndRight) {
  Tensor x = Tensor::from_vector<uint8_t>({3}, {1, 16, 255});
  Tensor s = Tensor::from_vector<uint8_t>({3}, {3, 2, 1});
  auto l = run_single_node({"BitShift", "", {{"direction", attr_str("LEFT")}}}, {x, s})[0];
  EXPECT_EQ(l.to_vector<uint8_t>(), (std::vector<uint8_t>{8, 64, 254}));
  auto r = run_single_node({"BitShift", "", {{"direction", attr_str("RIGHT")}}}, {x, s})[0];
  EXPECT_EQ(r.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 4, 127}));
}

TEST(Unary, RoundHalfToEvenAndSign) {
  auto y = run_single_node({"Round"}, {f32({5}, {0.5f, 1.5f, 2.5f, -0.5f, -1.6f})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 2, 2, -0, -2}));
  auto s = run_single_node({"Sign"}, {i32({3}, {-5, 0, 9})})[0];
  EXPECT_EQ(s.to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 1}));
  auto a = run_single_node({"Abs"}, {i64({2}, {-3, 4})})[0];
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
}

TEST(Unary, ErfKnownValues) {
  // erf(0) = 0, erf(1) = 0.8427007929, erf(-2) = -0.9953222650
  auto y = run_single_node({"Erf"}, {f32({3}, {0, 1, -2})})[0];
  EXPECT_NEAR(y.data<float>()[0], 0.0f, 1e-7);
  EXPECT_NEAR(y.data<float>()[1], 0.8427007929f, 1e-6);
  EXPECT_NEAR(y.data<float>()[2], -0.9953222650f, 1e-6);
}

TEST(Unary, IsInfDirections) {
  float inf = INFINITY;
  SingleNode s{"IsInf", "", {{"detect_negative", attr_int(0)}}};
  auto y = run_single_node(s, {f32({3}, {inf, -inf, NAN})})[0];
  EXPECT_EQ(y.to_vector<bool>(), (std::vector<bool>{true, false, false}));
}

TEST(Compare, BroadcastToBool) {
  auto y = run_single_node({"Less"}, {i64({2, 2}, {1, 5, 3, 3}), i64({2}, {3, 4})})[0];
  ASSERT_EQ(y.dtype(), DType::Bool);
  EXPECT_EQ(y.to_vector<bool>(), (std::vector<bool>{true, false, false, true}));
  auto z = run_single_node({"GreaterOrEqual"}, {f32({3}, {1, 2, 3}), f32({}, {2})})[0];
  EXPECT_EQ(z.to_vector<bool>(), (std::vector<bool>{false, true, true}));
}

TEST(Logic, AndOrXorNot) {
  Tensor a = b8({4}, {false, false, true, true}), b = b8({4}, {false, true, false, true});
  EXPECT_EQ(run_single_node({"And"}, {a, b})[0].to_vector<bool>(), (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(run_single_node({"Or"}, {a, b})[0].to_vector<bool>(), (std::vector<bool>{false, true, true, true}));
  EXPECT_EQ(run_single_node({"Xor"}, {a, b})[0].to_vector<bool>(), (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(run_single_node({"Not"}, {a})[0].to_vector<bool>(), (std::vector<bool>{true, true, false, false}));
}

TEST(Where, MaskedFillBroadcast) {
  // cond [1,3] over x scalar and y [2,3]
  auto y = run_single_node({"Where"}, {b8({1, 3}, {true, false, true}), f32({}, {-1}),
                                       f32({2, 3}, {1, 2, 3, 4, 5, 6})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-1, 2, -1, -1, 5, -1}));
}

TEST(Variadic, MaxMinSumMean) {
  Tensor a = f32({2}, {1, 6}), b = f32({2, 1}, {3, 4});
  EXPECT_EQ(run_single_node({"Max"}, {a, b})[0].to_vector<float>(), (std::vector<float>{3, 6, 4, 6}));
  EXPECT_EQ(run_single_node({"Min"}, {a, b})[0].to_vector<float>(), (std::vector<float>{1, 3, 1, 4}));
  EXPECT_EQ(run_single_node({"Sum"}, {a, b, f32({}, {1})})[0].to_vector<float>(),
            (std::vector<float>{5, 10, 6, 11}));
  EXPECT_EQ(run_single_node({"Mean"}, {a, b})[0].to_vector<float>(), (std::vector<float>{2, 4.5f, 2.5f, 5}));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(Compare, LegacyBroadcastAxis) {
  // opset 6: B [2] aligned at axis 0 of A [2,2]: y[i,j] = a[i,j] == b[i]
  SingleNode s{"Equal", "", {{"broadcast", attr_int(1)}, {"axis", attr_int(0)}}, 6};
  auto y = run_single_node(s, {Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 3}), Tensor::from_vector<int32_t>({2}, {1, 3})})[0];
  EXPECT_EQ(y.to_vector<bool>(), (std::vector<bool>{true, false, true, true}));
}

}  // namespace
}  // namespace kiln::test
