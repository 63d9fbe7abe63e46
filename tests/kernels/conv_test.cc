// Conv, ConvInteger, QLinearConv and ConvTranspose: literal cases worked out by hand.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

TEST(Conv, SumsWindowsPlusBias) {
  // 2x2 ones kernel over 1..9: window sums 12 16 24 28, plus bias 1
  auto y = run_single_node({"Conv"}, {f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), f32({1, 1, 2, 2}, {1, 1, 1, 1}),
                                      f32({1}, {1})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{13, 17, 25, 29}));
}

TEST(Conv, GroupsKeepChannelsApart) {
  // two channels, group 2, 1x1 kernels scaling by 2 and 3
  SingleNode s{"Conv", "", {{"group", attr_int(2)}}, 11};
  auto y = run_single_node(s, {f32({1, 2, 1, 2}, {1, 2, 10, 20}), f32({2, 1, 1, 1}, {2, 3})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 4, 30, 60}));
}

TEST(Conv, SameUpperPadsAtTheEnd) {
  // 1-D, kernel 2, SAME_UPPER: one pad on the right; [1,2,3] * [1,10] -> [21, 32, 3]
  SingleNode s{"Conv", "", {}, 11};
  Attribute ap;
  ap.kind = Attribute::Kind::String;
  ap.s = "SAME_UPPER";
  s.attrs["auto_pad"] = ap;
  auto y = run_single_node(s, {f32({1, 1, 3}, {1, 2, 3}), f32({1, 1, 2}, {1, 10})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{21, 32, 3}));
}

TEST(ConvTranspose, StrideSpreadsTheInput) {
  // 1-D, stride 2, kernel [1, 1]: [1, 2] -> [1, 1, 2, 2]; output_padding adds a trailing 0
  SingleNode s{"ConvTranspose", "", {{"strides", attr_ints({2})}}, 11};
  auto y = run_single_node(s, {f32({1, 1, 2}, {1, 2}), f32({1, 1, 2}, {1, 1})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2}));
  SingleNode p{"ConvTranspose", "", {{"strides", attr_ints({2})}, {"output_padding", attr_ints({1})}}, 11};
  EXPECT_EQ(run_single_node(p, {f32({1, 1, 2}, {1, 2}), f32({1, 1, 2}, {1, 1})})[0].to_vector<float>(),
            (std::vector<float>{1, 1, 2, 2, 0}));
}

TEST(Conv, IntegerDataIsBadInput) {
  EXPECT_THROW(run_single_node({"Conv"}, {Tensor::from_vector<int32_t>({1, 1, 1}, {1}),
                                          Tensor::from_vector<int32_t>({1, 1, 1}, {1})}),
               BadInput);
}

TEST(ConvInteger, SubtractsZeroPoints) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {2, 3, 4, 5});
  Tensor w = Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {3});
  auto y = run_single_node({"ConvInteger", "", {}, 10},
                           {x, w, Tensor::scalar<uint8_t>(1), Tensor::scalar<uint8_t>(1)})[0];
  EXPECT_EQ(y.dtype(), DType::I32);
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{2, 4, 6, 8}));  // (x-1) * (3-1)
}

TEST(QLinearConv, RescalesRoundingHalfToEven) {
  // integer products (x-1)*(2-1) = 1,2,3,4 times 0.5 * 0.5 / 0.5 = 0.5 -> 0.5, 1, 1.5, 2 -> 0, 1, 2, 2 (+ zero point 3)
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {2, 3, 4, 5});
  Tensor w = Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {2});
  auto y = run_single_node({"QLinearConv", "", {}, 10},
                           {x, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(1), w, Tensor::scalar<float>(0.5f),
                            Tensor::scalar<uint8_t>(1), Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(3)})[0];
  EXPECT_EQ(y.to_vector<uint8_t>(), (std::vector<uint8_t>{3, 4, 5, 5}));
}

}  // namespace
}  // namespace kiln::test
