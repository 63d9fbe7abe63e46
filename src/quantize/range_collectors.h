// Activation ranges from calibration batches. MinMax keeps the extremes; Percentile and Entropy
// look at a histogram of the values (a first pass fixes each tensor's span, a second fills the
// histogram), as ONNX Runtime's calibrators do:
// - percentile p: asymmetric ranges cut (100 - p) / 2 % of the mass on each side; symmetric ones
//   take the p-th percentile of |x|;
// - entropy: the threshold T over a histogram of |x| whose 8-bit quantization loses the least
//   information (smallest KL divergence), range [-T, T] clipped to the observed [min, max].
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln::quantize {

class RangeCollector {
 public:
  RangeCollector(bool histogram, bool symmetric, int bins);
  // Pass 1: extremes.
  void observe(const float* data, int64_t n);
  // Pass 2 (histogram methods only): fills the histogram over the span pass 1 found.
  void fill(const float* data, int64_t n);
  bool needs_second_pass() const { return histogram_; }

  std::pair<float, float> minmax() const;
  std::pair<float, float> percentile(double p) const;
  std::pair<float, float> entropy(int quantized_bins = 128) const;

  const std::vector<double>& hist() const { return hist_; }
  float hist_lo() const { return lo_; }
  float hist_hi() const { return hi_; }

 private:
  bool histogram_, symmetric_;
  float min_ = 0, max_ = 0;
  bool seen_ = false;
  std::vector<double> hist_;
  float lo_ = 0, hi_ = 0;  // histogram span ([0, max|x|] when symmetric)
};

// KL divergence threshold search on a histogram of |x| (bins over [0, hi]); returns T.
float entropy_threshold(const std::vector<double>& hist, float hi, int quantized_bins);

}  // namespace kiln::quantize
