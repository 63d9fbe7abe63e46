// Range, ConstantOfShape, Trilu, CumSum, OneHot, EyeLike, NonZero: literal cases from the spec.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

TEST(Range, CountIsTheCeilingOfTheSpan) {
  auto y = run_single_node({"Range"}, {Tensor::scalar<int64_t>(10), Tensor::scalar<int64_t>(3),
                                       Tensor::scalar<int64_t>(-3)})[0];
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{10, 7, 4}));
  auto z = run_single_node({"Range"}, {Tensor::scalar<float>(0), Tensor::scalar<float>(1),
                                       Tensor::scalar<float>(0.25f)})[0];
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  auto e = run_single_node({"Range"}, {Tensor::scalar<int32_t>(5), Tensor::scalar<int32_t>(1),
                                       Tensor::scalar<int32_t>(1)})[0];
  EXPECT_EQ(e.shape(), (Shape{0}));
}

TEST(ConstantOfShape, DefaultsToFloatZeroAndTakesTheValueType) {
  auto y = run_single_node({"ConstantOfShape"}, {Tensor::from_vector<int64_t>({2}, {2, 1})})[0];
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0}));
  Attribute v;
  v.kind = Attribute::Kind::Tensor;
  v.t = Tensor::from_vector<int64_t>({1}, {7});
  auto z = run_single_node({"ConstantOfShape", "", {{"value", v}}}, {Tensor::from_vector<int64_t>({1}, {3})})[0];
  EXPECT_EQ(z.to_vector<int64_t>(), (std::vector<int64_t>{7, 7, 7}));
  auto s = run_single_node({"ConstantOfShape", "", {{"value", v}}}, {Tensor::from_vector<int64_t>({0}, {})})[0];
  EXPECT_EQ(s.shape(), Shape{});
}

TEST(Trilu, UpperAndLowerWithK) {
  Tensor x = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run_single_node({"Trilu", "", {}, 14}, {x})[0].to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 3, 0, 5, 6}));
  SingleNode lower{"Trilu", "", {{"upper", attr_int(0)}}, 14};
  EXPECT_EQ(run_single_node(lower, {x, Tensor::scalar<int64_t>(-1)})[0].to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 0, 4, 0, 0}));
}

TEST(CumSum, ExclusiveReverse) {
  SingleNode s{"CumSum", "", {{"exclusive", attr_int(1)}, {"reverse", attr_int(1)}}, 14};
  auto y = run_single_node(s, {Tensor::from_vector<float>({4}, {1, 2, 3, 4}), Tensor::scalar<int32_t>(0)})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{9, 7, 4, 0}));
}

TEST(OneHot, NegativeIndexCountsFromDepthAndOutOfRangeIsOff) {
  auto y = run_single_node({"OneHot", "", {}, 11},
                           {Tensor::from_vector<int64_t>({3}, {0, -1, 5}), Tensor::scalar<int64_t>(3),
                            Tensor::from_vector<float>({2}, {-1, 1})})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, -1, -1, -1, -1, 1, -1, -1, -1}));
}

TEST(EyeLike, OffDiagonalAndDtype) {
  SingleNode s{"EyeLike", "", {{"k", attr_int(1)}, {"dtype", attr_int((int64_t)DType::I32)}}, 9};
  auto y = run_single_node(s, {Tensor(DType::F32, {2, 3})})[0];
  EXPECT_EQ(y.dtype(), DType::I32);
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 0, 0, 0, 1}));
}

TEST(NonZero, CoordinatesPerAxis) {
  auto y = run_single_node({"NonZero", "", {}, 13}, {Tensor::from_vector<bool>({2, 2}, {true, false, true, true})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0, 0, 1}));
}

TEST(Windows, HannPeriodicAndSymmetric) {
  auto p = run_single_node({"HannWindow", "", {}, 17}, {Tensor::scalar<int64_t>(4)})[0].to_vector<float>();
  std::vector<float> want{0, 0.5f, 1, 0.5f};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(p[i], want[i], 1e-6);
  SingleNode sym{"HannWindow", "", {{"periodic", attr_int(0)}}, 17};
  auto s = run_single_node(sym, {Tensor::scalar<int64_t>(3)})[0].to_vector<float>();
  EXPECT_NEAR(s[0], 0, 1e-6);
  EXPECT_NEAR(s[1], 1, 1e-6);
  EXPECT_NEAR(s[2], 0, 1e-6);
  // Blackman at the centre of a symmetric window: 0.42 + 0.5 + 0.08 = 1
  auto b = run_single_node({"BlackmanWindow", "", {{"periodic", attr_int(0)}}, 17}, {Tensor::scalar<int64_t>(3)})[0];
  EXPECT_NEAR(b.to_vector<float>()[1], 1, 1e-6);
}

}  // namespace
}  // namespace kiln::test
