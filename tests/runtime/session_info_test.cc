// The public Session API (include/kiln/session.h): input_info()/output_info() as the fixture's
// README describes its graph (dynamic batch and sequence axes), and a device other than the CPU
// refused.
#include <gtest/gtest.h>

#include "kiln/error.h"
#include "kiln/session.h"
#include "test_util.h"

using kiln::test::fixture;

TEST(SessionInfo, DescribesTheGraphInputsAndOutputs) {
  kiln::Session s(fixture("models/distilbert-tiny/model.onnx"), {.threads = 1});
  auto ins = s.input_info();
  ASSERT_EQ(ins.size(), 2u);
  EXPECT_EQ(ins[0].name, "input_ids");
  EXPECT_EQ(ins[1].name, "attention_mask");
  for (const auto& i : ins) {
    EXPECT_EQ(i.dtype, kiln::DType::I64) << i.name;
    EXPECT_TRUE(i.has_rank);
    EXPECT_EQ(i.shape, (std::vector<int64_t>{-1, -1})) << i.name << ": batch and sequence are dynamic";
    ASSERT_EQ(i.dim_names.size(), 2u);
    EXPECT_FALSE(i.dim_names[0].empty());
  }
  auto outs = s.output_info();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].name, "logits");
  EXPECT_EQ(outs[0].dtype, kiln::DType::F32);
  ASSERT_EQ(outs[0].shape.size(), 2u);
  EXPECT_EQ(outs[0].shape[0], -1);
}

TEST(SessionInfo, OnlyTheCpuIsADevice) {
  kiln::SessionOptions o;
  o.device = {kiln::DeviceType::Cuda, 0};
  EXPECT_THROW(kiln::Session(fixture("models/distilbert-tiny/model.onnx"), o), kiln::Unsupported);
}
