// NonMaxSuppression, RoiAlign, MaxRoiPool and GridSample: literal cases worked out by hand.
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

TEST(NonMaxSuppression, SuppressesOverlapsAndKeepsTheRest) {
  // box1 overlaps box0 with IoU 0.9 / 1.1 > 0.5; box2 is apart
  Tensor boxes = f32({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 5, 1, 6});
  Tensor scores = f32({1, 1, 3}, {0.9f, 0.8f, 0.7f});
  auto y = run_single_node({"NonMaxSuppression", "", {}, 11},
                           {boxes, scores, Tensor::from_vector<int64_t>({1}, {10}), f32({1}, {0.5f})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0, 0, 2}));
  // a score threshold of 0.75 drops box2; max one box per class keeps only box0
  auto z = run_single_node({"NonMaxSuppression", "", {}, 11},
                           {boxes, scores, Tensor::from_vector<int64_t>({1}, {1}), f32({1}, {0.5f}), f32({1}, {0.75f})})[0];
  EXPECT_EQ(z.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0}));
}

TEST(RoiAlign, OneSampleInTheMiddleOfTheImage) {
  // opset 10 (no half-pixel offset): ROI [0,0]-[1,1], one bin, one sample at (0.5, 0.5)
  SingleNode s{"RoiAlign", "", {{"sampling_ratio", attr_int(1)}}, 10};
  auto y = run_single_node(s, {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 4}, {0, 0, 1, 1}),
                               Tensor::from_vector<int64_t>({1}, {0})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 2.5f);
}

TEST(GridSample, CentreCornersAndPadding) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  SingleNode ac{"GridSample", "", {{"align_corners", attr_int(1)}}, 16};
  EXPECT_FLOAT_EQ(run_single_node(ac, {x, f32({1, 1, 1, 2}, {0, 0})})[0].data<float>()[0], 2.5f);
  // align_corners 0: grid (-1, -1) is half a pixel outside the top-left pixel
  Tensor corner = f32({1, 1, 1, 2}, {-1, -1});
  EXPECT_FLOAT_EQ(run_single_node({"GridSample", "", {}, 16}, {x, corner})[0].data<float>()[0], 0.25f);
  SingleNode border{"GridSample", "", {{"padding_mode", str("border")}}, 16};
  EXPECT_FLOAT_EQ(run_single_node(border, {x, corner})[0].data<float>()[0], 1.f);
}

TEST(MaxRoiPool, MaxOfEachBin) {
  // 4x4 image 0..15; ROI x 0..3, y 0..1 (two rows), pooled 1x2: left half max = 5, right half max = 7
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = (float)i;
  SingleNode s{"MaxRoiPool", "", {{"pooled_shape", attr_ints({1, 2})}}, 1};
  auto y = run_single_node(s, {f32({1, 1, 4, 4}, v), f32({1, 5}, {0, 0, 0, 3, 1})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 7}));
}

}  // namespace
}  // namespace kiln::test
