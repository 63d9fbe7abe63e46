// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile, Transpose: literal cases worked
// out from the ONNX spec, other dtypes (strings, bool, float16), the older opset forms, and errors.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor strings(Shape s, std::vector<std::string> v) {
  Tensor t(DType::String, std::move(s));
  for (size_t i = 0; i < v.size(); ++i) t.data<std::string>()[i] = v[i];
  return t;
}

TEST(Shape, StartAndEndClipToTheRank) {
  Tensor x(DType::F32, {2, 3, 4, 5});
  EXPECT_EQ(run_single_node({"Shape"}, {x})[0].to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  SingleNode s{"Shape", "", {{"start", attr_int(-3)}, {"end", attr_int(-1)}}, 15};
  EXPECT_EQ(run_single_node(s, {x})[0].to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
  SingleNode t{"Shape", "", {{"start", attr_int(10)}}, 15};
  EXPECT_EQ(run_single_node(t, {x})[0].shape(), (Shape{0}));
}

TEST(Size, CountsElementsOfAnyType) {
  auto y = run_single_node({"Size"}, {strings({2, 3}, {"a", "b", "c", "d", "e", "f"})})[0];
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<int64_t>()[0], 6);
}

TEST(Reshape, SharesTheInputBufferAndInfersMinusOne) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = run_single_node({"Reshape"}, {x, i64({2}, {-1, 2})})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.buffer(), x.buffer());
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Reshape, ZeroCopiesTheDimensionUnlessAllowzero) {
  Tensor x(DType::F32, {0, 3});
  EXPECT_EQ(run_single_node({"Reshape"}, {x, i64({2}, {0, 3})})[0].shape(), (Shape{0, 3}));
  Tensor y = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run_single_node({"Reshape"}, {y, i64({3}, {0, 1, 3})})[0].shape(), (Shape{2, 1, 3}));
  SingleNode az{"Reshape", "", {{"allowzero", attr_int(1)}}, 14};
  EXPECT_EQ(run_single_node(az, {Tensor(DType::F32, {0, 3}), i64({2}, {3, 0})})[0].shape(), (Shape{3, 0}));
}

TEST(Reshape, OpsetOneTakesAnAttribute) {
  SingleNode s{"Reshape", "", {{"shape", attr_ints({3, 2})}}, 1};
  EXPECT_EQ(run_single_node(s, {f32({6}, {1, 2, 3, 4, 5, 6})})[0].shape(), (Shape{3, 2}));
}

TEST(Reshape, WrongElementCountIsBadInput) {
  EXPECT_THROW(run_single_node({"Reshape"}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({1}, {4})}), BadInput);
  EXPECT_THROW(run_single_node({"Reshape"}, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({2}, {-1, -1})}), BadInput);
}

TEST(Flatten, SplitsTheShapeAtTheAxis) {
  Tensor x(DType::Bool, {2, 3, 4});
  SingleNode s{"Flatten", "", {{"axis", attr_int(-1)}}};
  EXPECT_EQ(run_single_node(s, {x})[0].shape(), (Shape{6, 4}));
  SingleNode z{"Flatten", "", {{"axis", attr_int(0)}}};
  EXPECT_EQ(run_single_node(z, {x})[0].shape(), (Shape{1, 24}));
}

TEST(Squeeze, AttributeFormBeforeOpset13AndInputFormAfter) {
  Tensor x(DType::F16, {1, 3, 1, 2});
  SingleNode old{"Squeeze", "", {{"axes", attr_ints({0})}}, 11};
  EXPECT_EQ(run_single_node(old, {x})[0].shape(), (Shape{3, 1, 2}));
  SingleNode now{"Squeeze", "", {}, 13};
  EXPECT_EQ(run_single_node(now, {x, i64({1}, {-2})})[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(run_single_node(now, {x})[0].shape(), (Shape{3, 2}));  // no axes: every 1
  EXPECT_THROW(run_single_node(now, {x, i64({1}, {1})}), BadInput);  // size 3 is not squeezable
}

TEST(Unsqueeze, AxesCountInTheOutputRank) {
  Tensor x = strings({2}, {"a", "b"});
  SingleNode now{"Unsqueeze", "", {}, 13};
  auto y = run_single_node(now, {x, i64({2}, {0, -1})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1}));
  EXPECT_EQ(y.data<std::string>()[1], "b");
  SingleNode old{"Unsqueeze", "", {{"axes", attr_ints({1})}}, 11};
  EXPECT_EQ(run_single_node(old, {x})[0].shape(), (Shape{2, 1}));
}

TEST(Expand, BroadcastsBothWays) {
  // [3,1] expanded by [2,1,2] -> [2,3,2]; each row value repeats along the last axis.
  auto y = run_single_node({"Expand"}, {f32({3, 1}, {1, 2, 3}), i64({3}, {2, 1, 2})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // The shape may be smaller than the input's: [2,2] by [1] stays [2,2].
  EXPECT_EQ(run_single_node({"Expand"}, {f32({2, 2}, {1, 2, 3, 4}), i64({1}, {1})})[0].shape(), (Shape{2, 2}));
  EXPECT_THROW(run_single_node({"Expand"}, {f32({3}, {1, 2, 3}), i64({1}, {2})}), BadInput);
}

TEST(Tile, RepeatsEachAxis) {
  auto y = run_single_node({"Tile"}, {strings({2}, {"x", "y"}), i64({1}, {3})})[0];
  EXPECT_EQ(y.to_vector<std::string>(), (std::vector<std::string>{"x", "y", "x", "y", "x", "y"}));
  auto z = run_single_node({"Tile"}, {f32({1, 2}, {1, 2}), i64({2}, {2, 2})})[0];
  EXPECT_EQ(z.shape(), (Shape{2, 4}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{1, 2, 1, 2, 1, 2, 1, 2}));
}

TEST(Transpose, PermutesAxes) {
  // x[i][j][k] = 100i + 10j + k with shape [2,3,2]; perm (2,0,1) gives y[k][i][j].
  std::vector<int64_t> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) v.push_back(100 * i + 10 * j + k);
  SingleNode s{"Transpose", "", {{"perm", attr_ints({2, 0, 1})}}};
  auto y = run_single_node(s, {i64({2, 3, 2}, v)})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(y.to_vector<int64_t>(),
            (std::vector<int64_t>{0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121}));
  // default: reverse the axes
  auto z = run_single_node({"Transpose"}, {f32({2, 3}, {1, 2, 3, 4, 5, 6})})[0];
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  SingleNode bad{"Transpose", "", {{"perm", attr_ints({0, 0})}}};
  EXPECT_ANY_THROW(run_single_node(bad, {f32({2, 3}, {1, 2, 3, 4, 5, 6})}));
}

TEST(Transpose, LargeStridedCasesMatchTheDefinition) {
  // Sizes past one 32x32 tile with ragged edges, for the tiled path: y[b][h][d][s] = x[b][s][h][d].
  const int64_t B = 2, S = 37, H = 3, D = 45;
  std::vector<float> v(B * S * H * D);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (float)i;
  SingleNode s{"Transpose", "", {{"perm", attr_ints({0, 2, 3, 1})}}};
  auto y = run_single_node(s, {f32({B, S, H, D}, v)})[0];
  ASSERT_EQ(y.shape(), (Shape{B, H, D, S}));
  const float* p = y.data<float>();
  int64_t bad = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t t = 0; t < S; ++t)
          if (p[((b * H + h) * D + d) * S + t] != v[((b * S + t) * H + h) * D + d]) ++bad;
  EXPECT_EQ(bad, 0);
  // int16 matrix transpose
  std::vector<int16_t> m(40 * 33);
  for (size_t i = 0; i < m.size(); ++i) m[i] = (int16_t)i;
  auto t = run_single_node({"Transpose"}, {Tensor::from_vector<int16_t>({40, 33}, m)})[0];
  const int16_t* q = t.data<int16_t>();
  for (int64_t i = 0; i < 33; ++i)
    for (int64_t j = 0; j < 40; ++j) ASSERT_EQ(q[i * 40 + j], m[j * 33 + i]);
}

}  // namespace
}  // namespace kiln::test
