#include "quantize/weight_quant.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::quantize {

std::pair<int, int> q_range(DType type, bool symmetric, bool reduce_range) {
  KILN_CHECK(type == DType::I8 || type == DType::U8, Unsupported, "quantization to {} is not supported; use int8 or uint8",
             dtype_name(type));
  if (type == DType::I8) {
    if (reduce_range) return {-64, 64};
    return symmetric ? std::pair{-127, 127} : std::pair{-128, 127};
  }
  if (reduce_range) return {0, 127};
  return symmetric ? std::pair{0, 254} : std::pair{0, 255};
}

ScaleZp compute_scale_zp(float rmin, float rmax, DType type, bool symmetric, bool reduce_range) {
  auto [qmin, qmax] = q_range(type, symmetric, reduce_range);
  rmin = std::min(rmin, 0.0f);
  rmax = std::max(rmax, 0.0f);
  if (symmetric) {
    float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  ScaleZp r;
  // The float difference widened to double, then divided: what ONNX Runtime's numpy code does.
  double scale = (double)(rmax - rmin) / ((double)qmax - (double)qmin);
  if (!(scale >= (double)std::numeric_limits<float>::min())) return r;  // empty range (or NaN): 1, 0
  r.scale = (float)scale;
  if (symmetric) r.zero_point = (int32_t)std::nearbyint((qmin + qmax) / 2.0);
  else r.zero_point = (int32_t)std::nearbyint((float)qmin - rmin / r.scale);
  r.zero_point = std::clamp(r.zero_point, qmin, qmax);
  return r;
}

int32_t quantize_value(float r, float scale, int32_t zero_point, DType type) {
  int lo = type == DType::I8 ? -128 : 0, hi = type == DType::I8 ? 127 : 255;
  float v = std::nearbyint(r / scale) + (float)zero_point;  // default rounding: half to even
  if (!(v >= (float)lo)) return lo;  // also NaN
  if (v > (float)hi) return hi;
  return (int32_t)v;
}

namespace {

template <typename Q>
void quantize_block(const float* src, Q* dst, int64_t outer, int64_t channels, int64_t inner, int axis,
                    DType type, bool symmetric, bool reduce_range, float* scales, Q* zps) {
  // Per channel c: the elements [o, c, i] for every o, i.
  int64_t nch = axis < 0 ? 1 : channels;
  for (int64_t c = 0; c < nch; ++c) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < (axis < 0 ? channels * inner : inner); ++i) {
        float v = axis < 0 ? src[o * channels * inner + i] : src[(o * channels + c) * inner + i];
        if (std::isfinite(v)) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      }
    if (lo > hi) lo = hi = 0;
    ScaleZp p = compute_scale_zp(lo, hi, type, symmetric, reduce_range);
    scales[c] = p.scale;
    zps[c] = (Q)p.zero_point;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < (axis < 0 ? channels * inner : inner); ++i) {
        int64_t k = axis < 0 ? o * channels * inner + i : (o * channels + c) * inner + i;
        dst[k] = (Q)quantize_value(src[k], p.scale, p.zero_point, type);
      }
  }
}

}  // namespace

QuantizedTensor quantize_tensor(const Tensor& w, DType type, bool symmetric, bool reduce_range, int axis) {
  KILN_CHECK(w.dtype() == DType::F32, Unsupported, "only float32 tensors can be quantized, not {}", dtype_name(w.dtype()));
  if (axis < 0 || w.rank() == 0) axis = -1;
  KILN_CHECK(axis < w.rank(), InternalError, "quantize axis {} for rank {}", axis, w.rank());
  int64_t outer = 1, channels = 1, inner = 1;
  if (axis < 0) {
    channels = w.numel();
  } else {
    for (int i = 0; i < axis; ++i) outer *= w.dim(i);
    channels = w.dim(axis);
    for (int i = axis + 1; i < w.rank(); ++i) inner *= w.dim(i);
  }
  QuantizedTensor r;
  r.axis = axis;
  r.q = Tensor(type, w.shape());
  Shape pshape = axis < 0 ? Shape{} : Shape{channels};
  r.scale = Tensor(DType::F32, pshape);
  r.zero_point = Tensor(type, pshape);
  if (axis < 0) {
    // treat the whole tensor as one channel of `numel` elements
    outer = 1;
    inner = 1;
  }
  const float* src = w.data<float>();
  if (type == DType::I8)
    quantize_block<int8_t>(src, r.q.data<int8_t>(), outer, channels, inner, axis, type, symmetric, reduce_range,
                           r.scale.data<float>(), r.zero_point.data<int8_t>());
  else
    quantize_block<uint8_t>(src, r.q.data<uint8_t>(), outer, channels, inner, axis, type, symmetric, reduce_range,
                            r.scale.data<float>(), r.zero_point.data<uint8_t>());
  return r;
}

Tensor dequantize_tensor(const QuantizedTensor& q) {
  Tensor out(DType::F32, q.q.shape());
  int64_t outer = 1, channels = 1, inner = 1;
  if (q.axis >= 0) {
    for (int i = 0; i < q.axis; ++i) outer *= q.q.dim(i);
    channels = q.q.dim(q.axis);
    for (int i = q.axis + 1; i < q.q.rank(); ++i) inner *= q.q.dim(i);
  } else {
    inner = q.q.numel();
  }
  float* o = out.data<float>();
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (a * channels + c) * inner + i;
        float s = q.scale.item_f64(q.axis >= 0 ? c : 0);
        double zp = q.zero_point.item_f64(q.axis >= 0 ? c : 0);
        o[k] = (float)(s * (q.q.item_f64(k) - zp));
      }
  return out;
}

}  // namespace kiln::quantize
