// Tensor JSON: the fixture format, non-finite floats, and refusals of malformed input.
#include <gtest/gtest.h>

#include <cmath>

#include "core/tensor_json.h"

using namespace kiln;

TEST(TensorJson, ParsesTheFixtureFormat) {
  auto t = parse_tensors_json(
      R"({"a": {"dtype": "float32", "dims": [2, 2], "data": [1, 2.5, "NaN", "-Infinity"]},
          "b": {"dtype": "int64", "dims": [3], "data": [9007199254740993, -1, 0]}})");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["a"].shape(), (Shape{2, 2}));
  EXPECT_EQ(t["a"].data<float>()[1], 2.5f);
  EXPECT_TRUE(std::isnan(t["a"].data<float>()[2]));
  EXPECT_EQ(t["a"].data<float>()[3], -INFINITY);
  EXPECT_EQ(t["b"].data<int64_t>()[0], 9007199254740993LL);  // exact beyond 2^53
}

TEST(TensorJson, RoundTripsThroughText) {
  NamedTensors in;
  in["x"] = Tensor::from_vector<float>({3}, {0.1f, -INFINITY, 3e38f});
  auto back = parse_tensors_json(tensors_to_json_text(in));
  EXPECT_EQ(back["x"].data<float>()[0], 0.1f);
  EXPECT_EQ(back["x"].data<float>()[1], -INFINITY);
  EXPECT_EQ(back["x"].data<float>()[2], 3e38f);
}

TEST(TensorJson, RefusesMalformedInput) {
  for (const char* bad : {
           "not json",
           "[1, 2]",
           R"({"x": {"dtype": "float32", "dims": [2]}})",
           R"({"x": {"dtype": "complex", "dims": [1], "data": [1]}})",
           R"({"x": {"dtype": "float32", "dims": [3], "data": [1, 2]}})",
           R"({"x": {"dtype": "float32", "dims": [-1], "data": []}})",
           R"({"x": {"dtype": "int64", "dims": [1], "data": [1e300]}})",
           R"({"x": {"dtype": "int8", "dims": [1], "data": [300]}})",
           R"({"x": {"dtype": "int32", "dims": [1], "data": [1.5]}})",
           R"({"x": {"dtype": "float32", "dims": [1], "data": [{"a": 1}]}})",
       })
    EXPECT_THROW(parse_tensors_json(bad), BadInput) << bad;
}
