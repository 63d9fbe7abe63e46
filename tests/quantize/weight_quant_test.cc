// Scale / zero point / quantized values against the formulas of ONNX Runtime's quantizer, worked
// out here by hand on small tensors.
#include <gtest/gtest.h>

#include <cmath>

#include "quant_test_util.h"
#include "quantize/weight_quant.h"

using namespace kiln;
using namespace kiln::quantize;

TEST(WeightQuant, SymmetricInt8PerTensor) {
  // max|w| = 2.54 -> scale 2.54 / 127 = 0.02, zero point 0.
  Tensor w = Tensor::from_vector<float>({2, 3}, {0.0f, 1.0f, -2.54f, 0.01f, 0.03f, 2.0f});
  QuantizedTensor q = quantize_tensor(w, DType::I8, true, false);
  EXPECT_FLOAT_EQ(q.scale.data<float>()[0], 0.02f);
  EXPECT_EQ(q.zero_point.dtype(), DType::I8);
  EXPECT_EQ(q.zero_point.data<int8_t>()[0], 0);
  // 1/0.02 = 50; -2.54/0.02 = -127; 0.01/0.02 = 0.5 -> 0 (half to even); 0.03/0.02 = 1.5 -> 2; 2/0.02 = 100
  std::vector<int8_t> want = {0, 50, -127, 0, 2, 100};
  EXPECT_EQ(q.q.to_vector<int8_t>(), want);
}

TEST(WeightQuant, ReduceRangeInt8UsesPlusMinus64) {
  // ONNX Runtime's reduced int8 range is [-64, 64]: scale = 2 * max / 128.
  Tensor w = Tensor::from_vector<float>({1, 2}, {-1.28f, 0.64f});
  QuantizedTensor q = quantize_tensor(w, DType::I8, true, true);
  EXPECT_FLOAT_EQ(q.scale.data<float>()[0], 0.02f);
  std::vector<int8_t> want = {-64, 32};
  EXPECT_EQ(q.q.to_vector<int8_t>(), want);
}

TEST(WeightQuant, SymmetricUint8CentresOn127) {
  // avx2 preset: u8 symmetric weights, range [0, 254]: scale = 2 * 1.27 / 254 = 0.01, zp 127.
  Tensor w = Tensor::from_vector<float>({3}, {-1.27f, 0.0f, 0.5f});
  QuantizedTensor q = quantize_tensor(w, DType::U8, true, false);
  EXPECT_FLOAT_EQ(q.scale.data<float>()[0], 0.01f);
  EXPECT_EQ(q.zero_point.data<uint8_t>()[0], 127);
  std::vector<uint8_t> want = {0, 127, 177};
  EXPECT_EQ(q.q.to_vector<uint8_t>(), want);
}

TEST(WeightQuant, AsymmetricUint8) {
  // [-0.5, 2.05]: scale = 2.55 / 255 = 0.01, zp = round(0 - (-0.5) / 0.01) = 50.
  Tensor w = Tensor::from_vector<float>({3}, {-0.5f, 2.05f, 1.0f});
  QuantizedTensor q = quantize_tensor(w, DType::U8, false, false);
  EXPECT_NEAR(q.scale.data<float>()[0], 0.01f, 1e-9);
  EXPECT_EQ(q.zero_point.data<uint8_t>()[0], 50);
  std::vector<uint8_t> want = {0, 255, 150};
  EXPECT_EQ(q.q.to_vector<uint8_t>(), want);
}

TEST(WeightQuant, RangeAlwaysContainsZero) {
  // All positive: rmin becomes 0, so asymmetric u8 has zp 0 and scale max / 255.
  Tensor w = Tensor::from_vector<float>({2}, {1.0f, 2.55f});
  QuantizedTensor q = quantize_tensor(w, DType::U8, false, false);
  EXPECT_NEAR(q.scale.data<float>()[0], 0.01f, 1e-9);
  EXPECT_EQ(q.zero_point.data<uint8_t>()[0], 0);
}

TEST(WeightQuant, AllZeroTensorGetsScaleOne) {
  Tensor w = Tensor::from_vector<float>({2}, {0.0f, 0.0f});
  QuantizedTensor q = quantize_tensor(w, DType::I8, true, false);
  EXPECT_EQ(q.scale.data<float>()[0], 1.0f);
  EXPECT_EQ(q.q.to_vector<int8_t>(), (std::vector<int8_t>{0, 0}));
}

TEST(WeightQuant, PerChannelAlongColumns) {
  // W [2, 3], axis 1: column maxima 1.27, 0.254, 2.54 -> scales 0.01, 0.002, 0.02.
  Tensor w = Tensor::from_vector<float>({2, 3}, {1.27f, -0.254f, 0.2f, -0.5f, 0.1f, -2.54f});
  QuantizedTensor q = quantize_tensor(w, DType::I8, true, false, 1);
  ASSERT_EQ(q.scale.shape(), (Shape{3}));
  EXPECT_FLOAT_EQ(q.scale.data<float>()[0], 0.01f);
  EXPECT_FLOAT_EQ(q.scale.data<float>()[1], 0.002f);
  EXPECT_FLOAT_EQ(q.scale.data<float>()[2], 0.02f);
  std::vector<int8_t> want = {127, -127, 10, -50, 50, -127};
  EXPECT_EQ(q.q.to_vector<int8_t>(), want);
}

TEST(WeightQuant, DequantizeIsWithinHalfAStep) {
  Tensor w = qtest::random_matrix(16, 8, 7);
  QuantizedTensor q = quantize_tensor(w, DType::I8, true, false, 1);
  Tensor back = dequantize_tensor(q);
  for (int64_t i = 0; i < w.numel(); ++i) {
    float s = q.scale.data<float>()[i % 8];
    EXPECT_LE(std::fabs(back.data<float>()[i] - w.data<float>()[i]), 0.5f * s * 1.0001f);
  }
}
