// The arithmetic of linear quantization, r = scale * (q - zero_point), with the rules of ONNX
// Runtime's quantizer so that kiln's files hold the numbers users expect:
// - the range always contains 0; symmetric ranges are [-max|r|, +max|r|];
// - q ranges: int8 [-128, 127], symmetric int8 [-127, 127], uint8 [0, 255], symmetric uint8
//   [0, 254]; reduce_range: int8 [-64, 64], uint8 [0, 127];
// - scale = (rmax - rmin) / (qmax - qmin) (1 when the range is empty); zero point
//   round(qmin - rmin / scale), or the middle of the q range when symmetric;
// - q = clamp(round_half_even(r / scale) + zero_point) to the full range of the type.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln::quantize {

std::pair<int, int> q_range(DType type, bool symmetric, bool reduce_range);

struct ScaleZp {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
ScaleZp compute_scale_zp(float rmin, float rmax, DType type, bool symmetric, bool reduce_range);

// q = clamp(round(r / scale) + zp) for one value.
int32_t quantize_value(float r, float scale, int32_t zero_point, DType type);

// A quantized constant: q has the weight's shape and the int type; scale (float32) and zero_point
// (the int type) are scalars, or 1-D along `axis` for per-channel.
struct QuantizedTensor {
  Tensor q, scale, zero_point;
  int axis = -1;  // -1: per tensor
};

// Quantizes a float32 tensor per tensor (axis < 0) or per slice along `axis`.
QuantizedTensor quantize_tensor(const Tensor& w, DType type, bool symmetric, bool reduce_range, int axis = -1);

// scale * (q - zp), for tests and for folding.
Tensor dequantize_tensor(const QuantizedTensor& q);

}  // namespace kiln::quantize
