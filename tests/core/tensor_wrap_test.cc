// kiln::Tensor::wrap (include/kiln/tensor.h): a tensor over memory kiln does not own, as the Python
// module makes one from a numpy array. Nothing is copied, the owner lives as long as a tensor uses
// the bytes, a session reads them as feeds, and what cannot be wrapped is refused.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/tensor_json.h"
#include "kiln/error.h"
#include "kiln/session.h"
#include "kiln/tensor.h"
#include "test_util.h"

namespace {

TEST(TensorWrap, SharesTheCallersBytesAndKeepsTheOwnerAlive) {
  auto values = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  std::weak_ptr<std::vector<float>> watch = values;
  kiln::Tensor copy;
  {
    kiln::Tensor t = kiln::Tensor::wrap(kiln::DType::F32, {2, 3}, values->data(), values);
    EXPECT_EQ(t.raw(), values->data()) << "no copy";
    EXPECT_TRUE(t.is_view());
    EXPECT_EQ(t.shape(), (kiln::Shape{2, 3}));
    EXPECT_EQ(t.data<float>()[4], 5.0f);
    copy = t.reshape({6});
  }
  values.reset();
  EXPECT_FALSE(watch.expired()) << "a tensor still uses the bytes";
  EXPECT_EQ(copy.data<float>()[5], 6.0f);
  copy = kiln::Tensor();
  EXPECT_TRUE(watch.expired()) << "the owner is released with the last tensor";
  EXPECT_FALSE(kiln::Tensor(kiln::DType::F32, {2}).is_view()) << "kiln's own heap block";
}

TEST(TensorWrap, RefusesStringsAndNullData) {
  std::string s[2];
  EXPECT_THROW(kiln::Tensor::wrap(kiln::DType::String, {2}, s, nullptr), kiln::BadInput);
  EXPECT_THROW(kiln::Tensor::wrap(kiln::DType::F32, {2}, nullptr, nullptr), kiln::BadInput);
  EXPECT_NO_THROW(kiln::Tensor::wrap(kiln::DType::F32, {0, 3}, nullptr, nullptr));
}

// Feeds wrapped over the reference inputs give PyTorch's logits (fixture ref/), as copies do.
TEST(TensorWrap, WrappedFeedsRunInASession) {
  using kiln::test::fixture;
  auto in = kiln::read_tensors_json(fixture("models/distilbert-tiny/ref/case0_inputs.json"));
  auto ref = kiln::read_tensors_json(fixture("models/distilbert-tiny/ref/case0_outputs.json"));
  kiln::NamedTensors feeds;
  for (auto& [name, t] : in) {
    auto bytes = std::make_shared<std::vector<int64_t>>(t.to_i64_vector());
    feeds[name] = kiln::Tensor::wrap(t.dtype(), t.shape(), bytes->data(), bytes);
  }
  kiln::Session s(fixture("models/distilbert-tiny/model.onnx"), {.threads = 1});
  auto out = s.run(feeds);
  EXPECT_LE(kiln::test::relative_error(out.at("logits"), ref.at("logits")), 1e-4);
}

}  // namespace
