// Slice (every form) and Pad (every mode): literal cases derived from the spec by hand.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

TEST(Slice, StepsAndClamping) {
  Tensor x = i64({2, 4}, {0, 1, 2, 3, 10, 11, 12, 13});
  // axis 1 from -1 backwards by 2: columns 3, 1; axis 0 from 1 to "infinity"
  auto y = run_single_node({"Slice"}, {x, i64({2}, {1, -1}), i64({2}, {INT64_MAX, -100}), i64({2}, {0, 1}),
                                       i64({2}, {1, -2})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{13, 11}));
  // start past the end gives an empty axis
  auto z = run_single_node({"Slice"}, {x, i64({1}, {5}), i64({1}, {10}), i64({1}, {1})})[0];
  EXPECT_EQ(z.shape(), (Shape{2, 0}));
}

TEST(Slice, OpsetOneAttributes) {
  SingleNode s{"Slice", "", {{"starts", attr_ints({1})}, {"ends", attr_ints({3})}, {"axes", attr_ints({0})}}, 1};
  EXPECT_EQ(run_single_node(s, {f32({4}, {1, 2, 3, 4})})[0].to_vector<float>(), (std::vector<float>{2, 3}));
}

TEST(Slice, ZeroStepIsBadInput) {
  EXPECT_THROW(run_single_node({"Slice"}, {f32({2}, {1, 2}), i64({1}, {0}), i64({1}, {2}), i64({1}, {0}),
                                           i64({1}, {0})}),
               BadInput);
}

TEST(Pad, EveryModeOnOneRow) {
  Tensor x = f32({1, 3}, {1, 2, 3});
  Tensor pads = i64({4}, {0, 2, 0, 2});
  auto run = [&](const char* mode) {
    Attribute m;
    m.kind = Attribute::Kind::String;
    m.s = mode;
    return run_single_node({"Pad", "", {{"mode", m}}}, {x, pads})[0].to_vector<float>();
  };
  EXPECT_EQ(run("constant"), (std::vector<float>{0, 0, 1, 2, 3, 0, 0}));
  EXPECT_EQ(run("edge"), (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  EXPECT_EQ(run("reflect"), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(run("wrap"), (std::vector<float>{2, 3, 1, 2, 3, 1, 2}));
}

TEST(Pad, ConstantValueNegativePadsAndAxes) {
  // pad axis 1 by (1, -1) with 9: [1,2,3] -> [9,1,2]
  auto y = run_single_node({"Pad"}, {f32({1, 3}, {1, 2, 3}), i64({2}, {1, -1}), f32({}, {9}), i64({1}, {1})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{9, 1, 2}));
  // opset 2: pads and value as attributes, over two axes
  Attribute v;
  v.kind = Attribute::Kind::Float;
  v.f = 5;
  SingleNode old{"Pad", "", {{"pads", attr_ints({1, 0, 0, 1})}, {"value", v}}, 2};
  auto z = run_single_node(old, {f32({1, 1}, {7})})[0];
  EXPECT_EQ(z.shape(), (Shape{2, 2}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{5, 5, 7, 5}));
}

TEST(ReverseSequence, ReversesEachBatchPrefix) {
  // time_axis 0, batch_axis 1: columns are sequences; lengths 3 and 1
  SingleNode s{"ReverseSequence", "", {}, 10};
  auto y = run_single_node(s, {i64({3, 2}, {1, 10, 2, 20, 3, 30}), i64({2}, {3, 1})})[0];
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{3, 10, 2, 20, 1, 30}));
}

TEST(Slice, ContiguousBlocksShareTheInputBuffer) {
  Tensor x = i64({3, 2}, {0, 1, 2, 3, 4, 5});
  auto rows = run_single_node({"Slice"}, {x, i64({1}, {1}), i64({1}, {3})})[0];  // rows 1..2
  EXPECT_EQ(rows.buffer(), x.buffer());
  EXPECT_EQ(rows.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  auto col = run_single_node({"Slice"}, {x, i64({1}, {1}), i64({1}, {2}), i64({1}, {1})})[0];  // column 1: strided
  EXPECT_NE(col.buffer(), x.buffer());
  EXPECT_EQ(col.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 5}));
}

}  // namespace
}  // namespace kiln::test
