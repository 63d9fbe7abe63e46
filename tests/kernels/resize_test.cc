// Resize and Upsample: literal cases worked out from the spec's coordinate formulas.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Attribute str(const char* s) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = s;
  return a;
}

TEST(Resize, LinearHalfPixelClampsAtTheEdges) {
  // sizes [1, 4] from [1, 2]: x_original = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25
  SingleNode s{"Resize", "", {{"mode", str("linear")}}, 13};
  auto y = run_single_node(s, {f32({1, 2}, {1, 2}), Tensor(), Tensor(), Tensor::from_vector<int64_t>({2}, {1, 4})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1.25f, 1.75f, 2}));
}

TEST(Resize, AlignCornersKeepsTheEnds) {
  SingleNode s{"Resize", "", {{"mode", str("linear")}, {"coordinate_transformation_mode", str("align_corners")}}, 13};
  auto y = run_single_node(s, {f32({3}, {0, 10, 20}), Tensor(), Tensor(), Tensor::from_vector<int64_t>({1}, {5})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 5, 10, 15, 20}));
}

TEST(Resize, NearestByScales) {
  // scale 2, half_pixel: x_original = x/2 - 0.25 -> -0.25, 0.25, 0.75, 1.25 -> rounds to 0, 0, 1, 1
  SingleNode s{"Resize", "", {}, 13};
  auto y = run_single_node(s, {f32({2}, {7, 9}), Tensor(), Tensor::from_vector<float>({1}, {2.f})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{7, 7, 9, 9}));
}

TEST(Upsample, NearestRepeats) {
  SingleNode s{"Upsample", "", {}, 9};
  auto y = run_single_node(s, {f32({1, 2}, {1, 2}), Tensor::from_vector<float>({2}, {2.f, 3.f})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 6}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
}

}  // namespace
}  // namespace kiln::test
