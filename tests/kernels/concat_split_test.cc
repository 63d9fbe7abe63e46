// Concat and Split: literal cases from the spec, string data, and the opset-13/18 split forms.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }

TEST(Concat, JoinsAlongANegativeAxis) {
  SingleNode s{"Concat", "", {{"axis", attr_int(-1)}}};
  auto y = run_single_node(s, {i64({2, 1}, {1, 2}), i64({2, 2}, {3, 4, 5, 6}), i64({2, 0}, {})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 4, 2, 5, 6}));
}

TEST(Concat, StringsAndMismatchedShapes) {
  Tensor a(DType::String, {1}), b(DType::String, {2});
  a.data<std::string>()[0] = "p";
  b.data<std::string>()[0] = "q";
  b.data<std::string>()[1] = "r";
  SingleNode s{"Concat", "", {{"axis", attr_int(0)}}};
  auto y = run_single_node(s, {a, b})[0];
  EXPECT_EQ(y.to_vector<std::string>(), (std::vector<std::string>{"p", "q", "r"}));
  EXPECT_THROW(run_single_node(s, {i64({1, 2}, {1, 2}), i64({1, 3}, {1, 2, 3})}), BadInput);
}

TEST(Split, SizesFromTheInput) {
  SingleNode s{"Split", "", {{"axis", attr_int(1)}}, 13, 2};
  auto y = run_single_node(s, {i64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({2}, {1, 2})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(y[1].shape(), (Shape{2, 2}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 5, 6}));
  EXPECT_THROW(run_single_node(s, {i64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({2}, {1, 1})}), BadInput);
}

TEST(Split, AttributeBefore13AndEqualParts) {
  SingleNode old{"Split", "", {{"split", attr_ints({2, 1})}}, 11, 2};
  auto y = run_single_node(old, {i64({3}, {7, 8, 9})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{9}));
  SingleNode eq{"Split", "", {}, 13, 3};
  auto z = run_single_node(eq, {i64({3}, {7, 8, 9})});
  EXPECT_EQ(z[2].to_vector<int64_t>(), (std::vector<int64_t>{9}));
}

TEST(Split, NumOutputsLeavesTheLastChunkSmaller) {
  // opset 18: 5 elements into 3 outputs -> chunks of ceil(5/3) = 2: [2, 2, 1]
  SingleNode s{"Split", "", {{"num_outputs", attr_int(3)}}, 18, 3};
  auto y = run_single_node(s, {i64({5}, {1, 2, 3, 4, 5})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(y[2].to_vector<int64_t>(), (std::vector<int64_t>{5}));
}

TEST(Split, LeadingAxisPartsAreViews) {
  Tensor x = i64({3, 2}, {0, 1, 2, 3, 4, 5});
  SingleNode s{"Split", "", {}, 13, 2};
  auto y = run_single_node(s, {x, i64({2}, {1, 2})});
  EXPECT_EQ(y[1].buffer(), x.buffer());
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
}

}  // namespace
}  // namespace kiln::test
