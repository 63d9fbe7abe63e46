// Gather, GatherElements, GatherND, ScatterElements, ScatterND, Compress: literal cases from the spec.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

TEST(Gather, RowsOfAnEmbeddingTableWithNegativeIndices) {
  Tensor table = f32({3, 2}, {0, 1, 10, 11, 20, 21});
  auto y = run_single_node({"Gather"}, {table, i64({2, 2}, {2, 0, -2, 2})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{20, 21, 0, 1, 10, 11, 20, 21}));
  SingleNode cols{"Gather", "", {{"axis", attr_int(1)}}};
  auto z = run_single_node(cols, {table, Tensor::from_vector<int32_t>({}, {1})})[0];
  EXPECT_EQ(z.shape(), (Shape{3}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{1, 11, 21}));
  EXPECT_THROW(run_single_node({"Gather"}, {table, i64({1}, {3})}), BadInput);
}

TEST(GatherElements, PicksAlongTheAxis) {
  SingleNode s{"GatherElements", "", {{"axis", attr_int(1)}}};
  auto y = run_single_node(s, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, 1, 0})})[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 4, 3}));
}

TEST(GatherND, TuplesAndBatchDims) {
  auto y = run_single_node({"GatherND"}, {i64({2, 2}, {0, 1, 2, 3}), i64({2, 2}, {0, 0, 1, 1})})[0];
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 3}));
  // batch_dims 1: data [2,2,2], indices [2,1] pick data[b][idx[b]]
  SingleNode s{"GatherND", "", {{"batch_dims", attr_int(1)}}};
  auto z = run_single_node(s, {i64({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}), i64({2, 1}, {1, 0})})[0];
  EXPECT_EQ(z.shape(), (Shape{2, 2}));
  EXPECT_EQ(z.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
}

TEST(ScatterElements, Reductions) {
  Tensor data = f32({1, 3}, {1, 2, 3});
  Tensor idx = i64({1, 2}, {1, 1});
  Tensor upd = f32({1, 2}, {10, 20});
  auto run = [&](const char* red) {
    Attribute r;
    r.kind = Attribute::Kind::String;
    r.s = red;
    SingleNode s{"ScatterElements", "", {{"axis", attr_int(1)}, {"reduction", r}}, 18};
    return run_single_node(s, {data, idx, upd})[0].to_vector<float>();
  };
  EXPECT_EQ(run("add"), (std::vector<float>{1, 32, 3}));
  EXPECT_EQ(run("mul"), (std::vector<float>{1, 400, 3}));
  EXPECT_EQ(run("max"), (std::vector<float>{1, 20, 3}));
  EXPECT_EQ(run("min"), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(run("none"), (std::vector<float>{1, 20, 3}));  // later updates win
}

TEST(ScatterND, ReplacesSlices) {
  auto y = run_single_node({"ScatterND"}, {i64({4}, {1, 2, 3, 4}), i64({2, 1}, {3, 0}), i64({2}, {40, 10})})[0];
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{10, 2, 3, 40}));
}

TEST(Compress, KeepsTrueSlices) {
  SingleNode s{"Compress", "", {{"axis", attr_int(1)}}, 11};
  auto y = run_single_node(s, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::from_vector<bool>({2}, {false, true})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 5}));
  auto flat = run_single_node({"Compress", "", {}, 11},
                              {f32({2, 2}, {1, 2, 3, 4}), Tensor::from_vector<bool>({4}, {true, false, false, true})})[0];
  EXPECT_EQ(flat.to_vector<float>(), (std::vector<float>{1, 4}));
}

TEST(Gather, OneRowIsAView) {
  Tensor table = f32({3, 2}, {0, 1, 10, 11, 20, 21});
  auto y = run_single_node({"Gather"}, {table, Tensor::scalar<int64_t>(-1)})[0];
  EXPECT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(y.buffer(), table.buffer());
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{20, 21}));
}

}  // namespace
}  // namespace kiln::test
