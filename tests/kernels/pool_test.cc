// MaxPool, AveragePool, LpPool and the global pools: literal cases worked out by hand.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor grid3() { return f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}); }

TEST(MaxPool, WindowsAndArgmaxIndices) {
  SingleNode s{"MaxPool", "", {{"kernel_shape", attr_ints({2, 2})}}, 12, 2};
  auto y = run_single_node(s, {grid3()});
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y[0].to_vector<float>(), (std::vector<float>{5, 6, 8, 9}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 7, 8}));
}

TEST(MaxPool, CeilModeAddsAPartialWindow) {
  SingleNode s{"MaxPool", "", {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})},
                               {"ceil_mode", attr_int(1)}}, 12};
  auto y = run_single_node(s, {grid3()})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 6, 8, 9}));
}

TEST(AveragePool, PaddingCountedOrNot) {
  // 2x2 windows over the 3x3 grid padded by one on top/left: the first window holds only "1".
  SingleNode excl{"AveragePool", "", {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 0, 0})}}, 11};
  auto y = run_single_node(excl, {grid3()})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 1.f);
  EXPECT_FLOAT_EQ(y.data<float>()[4], 3.f);  // (1+2+4+5)/4
  SingleNode incl{"AveragePool", "", {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 0, 0})},
                                      {"count_include_pad", attr_int(1)}}, 11};
  auto z = run_single_node(incl, {grid3()})[0];
  EXPECT_FLOAT_EQ(z.data<float>()[0], 0.25f);
  EXPECT_FLOAT_EQ(z.data<float>()[1], 0.75f);  // (1+2)/4
}

TEST(GlobalPools, WholePlane) {
  EXPECT_EQ(run_single_node({"GlobalAveragePool"}, {grid3()})[0].to_vector<float>(), (std::vector<float>{5}));
  auto m = run_single_node({"GlobalMaxPool"}, {grid3()})[0];
  EXPECT_EQ(m.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{9}));
}

TEST(LpPool, TwoNorm) {
  SingleNode s{"LpPool", "", {{"kernel_shape", attr_ints({2})}, {"p", attr_int(2)}}, 11};
  auto y = run_single_node(s, {f32({1, 1, 3}, {3, 4, 0})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 4}));
}

TEST(Pools, WindowLargerThanInputIsBadInput) {
  SingleNode s{"MaxPool", "", {{"kernel_shape", attr_ints({4, 4})}}, 12};
  EXPECT_THROW(run_single_node(s, {grid3()}), BadInput);
}

TEST(MaxUnpool, PutsValuesBackAtTheirIndices) {
  SingleNode s{"MaxUnpool", "", {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}}, 11};
  auto y = run_single_node(s, {f32({1, 1, 2}, {5, 7}), Tensor::from_vector<int64_t>({1, 1, 2}, {1, 2})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 5, 7, 0}));
}

}  // namespace
}  // namespace kiln::test
