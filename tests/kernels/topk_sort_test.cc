// TopK and Unique: literal cases from the spec.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

TEST(TopK, LargestWithTiesTakingTheLowerIndex) {
  SingleNode s{"TopK", "", {}, 11, 2};
  auto y = run_single_node(s, {Tensor::from_vector<float>({2, 3}, {1, 3, 3, 5, 4, 6}),
                               Tensor::from_vector<int64_t>({1}, {2})});
  EXPECT_EQ(y[0].to_vector<float>(), (std::vector<float>{3, 3, 6, 5}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 2, 0}));
}

TEST(TopK, SmallestAlongAxisZero) {
  SingleNode s{"TopK", "", {{"largest", attr_int(0)}, {"axis", attr_int(0)}}, 11, 2};
  auto y = run_single_node(s, {Tensor::from_vector<int32_t>({3, 1}, {5, -1, 2}), Tensor::from_vector<int64_t>({1}, {2})});
  EXPECT_EQ(y[0].to_vector<int32_t>(), (std::vector<int32_t>{-1, 2}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_THROW(run_single_node(s, {Tensor::from_vector<int32_t>({1}, {5}), Tensor::from_vector<int64_t>({1}, {2})}),
               BadInput);
}

TEST(Unique, SortedWithIndicesInverseAndCounts) {
  SingleNode s{"Unique", "", {}, 11, 4};
  auto y = run_single_node(s, {Tensor::from_vector<float>({6}, {2, 1, 1, 3, 4, 3})});
  EXPECT_EQ(y[0].to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(y[2].to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(y[3].to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 2, 1}));
}

TEST(Unique, UnsortedKeepsFirstOccurrenceOrder) {
  SingleNode s{"Unique", "", {{"sorted", attr_int(0)}}, 11, 1};
  auto y = run_single_node(s, {Tensor::from_vector<int64_t>({5}, {9, 7, 9, 8, 7})});
  EXPECT_EQ(y[0].to_vector<int64_t>(), (std::vector<int64_t>{9, 7, 8}));
}

}  // namespace
}  // namespace kiln::test
