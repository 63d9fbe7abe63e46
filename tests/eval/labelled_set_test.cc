// eval's labelled set (the judge of quantize --accuracy-target): reading JSON lines, refusing bad
// ones, and argmax accuracy on logits made here.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "eval/labelled_set.h"
#include "test_util.h"

using namespace kiln;

namespace {

Tensor logits(std::vector<float> v, int64_t rows, int64_t cols) {
  Tensor t(DType::F32, {rows, cols});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

}  // namespace

TEST(LabelledSet, ReadsLabelsAndInputs) {
  test::ScratchDir d("kiln-lset");
  std::ofstream(d.path / "set.jsonl") << R"({"label": 1, "x": {"dtype": "float32", "dims": [1, 2], "data": [0.5, 1.5]}})"
                                      << "\n\n"
                                      << R"({"label": [0, 2], "x": {"dtype": "float32", "dims": [2, 2], "data": [1, 2, 3, 4]}})"
                                      << "\n";
  auto s = eval::read_labelled_set((d.path / "set.jsonl").string(), {"x"});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].labels, std::vector<int64_t>{1});
  EXPECT_EQ(s[1].labels, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(s[1].inputs.at("x").shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(s[0].inputs.at("x").data<float>()[1], 1.5f);
}

TEST(LabelledSet, RefusesBadLines) {
  test::ScratchDir d("kiln-lset");
  auto path = (d.path / "bad.jsonl").string();
  std::ofstream(path) << R"({"x": {"dtype": "float32", "dims": [1], "data": [1]}})"
                      << "\n";
  EXPECT_THROW(eval::read_labelled_set(path, {"x"}), BadInput);  // no label
  std::ofstream(path, std::ios::trunc) << R"({"label": 0})"
                                       << "\n";
  EXPECT_THROW(eval::read_labelled_set(path, {"x"}), BadInput);  // no input x
  std::ofstream(path, std::ios::trunc) << "not json\n";
  EXPECT_THROW(eval::read_labelled_set(path, {"x"}), BadInput);
  std::ofstream(path, std::ios::trunc) << "\n";
  EXPECT_THROW(eval::read_labelled_set(path, {"x"}), BadInput);  // no samples
  EXPECT_THROW(eval::read_labelled_set((d.path / "none.jsonl").string(), {"x"}), IoError);
}

TEST(LabelledSet, AccuracyIsArgmaxAgainstLabels) {
  std::vector<eval::LabelledSample> samples(2);
  samples[0].labels = {1};
  samples[1].labels = {0, 2};
  eval::LabelledSet set(std::move(samples));
  // Sample 0: argmax 1 (right). Sample 1: row 0 argmax 0 (right), row 1 argmax 1 (wrong): 2 of 3.
  std::vector<Tensor> out = {logits({0.1f, 0.9f, 0.0f}, 1, 3), logits({5, 1, 2, 0, 3, 1}, 2, 3)};
  EXPECT_NEAR(set.accuracy(out), 200.0 / 3.0, 1e-9);
  std::vector<Tensor> wrong_rows = {logits({0.1f, 0.9f, 0.0f}, 1, 3), logits({5, 1, 2}, 1, 3)};
  EXPECT_THROW(set.accuracy(wrong_rows), BadInput);
}
