// Range and ConstantOfShape (and the other generators as they land): literal cases from the spec.
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

}  // namespace
}  // namespace kiln::test
