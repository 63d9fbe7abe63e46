#include "quantize/range_collectors.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::quantize {

RangeCollector::RangeCollector(bool histogram, bool symmetric, int bins)
    : histogram_(histogram), symmetric_(symmetric), hist_(histogram ? bins : 0, 0.0) {}

void RangeCollector::observe(const float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float v = d[i];
    if (!std::isfinite(v)) continue;
    if (!seen_) {
      min_ = max_ = v;
      seen_ = true;
    }
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  if (symmetric_) {
    lo_ = 0;
    hi_ = std::max(std::fabs(min_), std::fabs(max_));
  } else {
    lo_ = min_;
    hi_ = max_;
  }
}

void RangeCollector::fill(const float* d, int64_t n) {
  if (hist_.empty() || !(hi_ > lo_)) return;
  double w = (hi_ - lo_) / (double)hist_.size();
  for (int64_t i = 0; i < n; ++i) {
    float v = d[i];
    if (!std::isfinite(v)) continue;
    if (symmetric_) v = std::fabs(v);
    int64_t b = (int64_t)((v - lo_) / w);
    b = std::clamp<int64_t>(b, 0, (int64_t)hist_.size() - 1);
    hist_[b] += 1;
  }
}

std::pair<float, float> RangeCollector::minmax() const { return {min_, max_}; }

std::pair<float, float> RangeCollector::percentile(double p) const {
  double total = 0;
  for (double h : hist_) total += h;
  if (total <= 0 || !(hi_ > lo_)) return minmax();
  double w = (hi_ - lo_) / (double)hist_.size();
  // The upper edge of the first bin where the cumulative share reaches q.
  auto edge = [&](double q) {
    double c = 0;
    for (size_t i = 0; i < hist_.size(); ++i) {
      c += hist_[i] / total;
      if (c >= q) return (float)(lo_ + w * (double)(i + 1));
    }
    return hi_;
  };
  if (symmetric_) {
    float t = edge(p / 100.0);
    return {std::max(-t, min_), std::min(t, max_)};
  }
  double cut = (100.0 - p) / 200.0;
  float lo = cut > 0 ? (float)(lo_ + w * 0) : lo_;
  // lower bound: the lower edge of the first bin where the cumulative share exceeds `cut`
  double c = 0;
  for (size_t i = 0; i < hist_.size(); ++i) {
    c += hist_[i] / total;
    if (c > cut) {
      lo = (float)(lo_ + w * (double)i);
      break;
    }
  }
  float hi = edge(1.0 - cut);
  return {std::max(lo, min_), std::min(hi, max_)};
}

float entropy_threshold(const std::vector<double>& hist, float hi, int nq) {
  int nb = (int)hist.size();
  if (nb <= nq) return hi;
  double bin = hi / (double)nb;
  double best = std::numeric_limits<double>::infinity();
  int best_i = nb;
  std::vector<double> p, q;
  for (int i = nq; i <= nb; ++i) {
    // Reference distribution: the first i bins, with the clipped tail folded into the last one.
    p.assign(hist.begin(), hist.begin() + i);
    double tail = 0;
    for (int k = i; k < nb; ++k) tail += hist[k];
    p[i - 1] += tail;
    // Candidate: the first i bins merged into nq levels, each level's mass spread evenly over the
    // bins of that level that were non-empty.
    q.assign(i, 0.0);
    double per = (double)i / nq;
    for (int j = 0; j < nq; ++j) {
      int start = (int)std::floor(j * per), stop = j == nq - 1 ? i : (int)std::floor((j + 1) * per);
      double sum = 0;
      int nonzero = 0;
      for (int k = start; k < stop; ++k) {
        sum += hist[k];
        nonzero += hist[k] != 0;
      }
      for (int k = start; k < stop; ++k)
        if (hist[k] != 0) q[k] = sum / nonzero;
    }
    double ps = 0, qs = 0;
    for (int k = 0; k < i; ++k) {
      ps += p[k];
      qs += q[k];
    }
    if (ps <= 0 || qs <= 0) continue;
    double kl = 0;
    for (int k = 0; k < i; ++k) {
      if (p[k] <= 0) continue;
      double pk = p[k] / ps, qk = q[k] / qs;
      kl += qk > 0 ? pk * std::log(pk / qk) : pk * std::log(pk / 1e-12);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return (float)(bin * best_i);
}

std::pair<float, float> RangeCollector::entropy(int quantized_bins) const {
  if (hist_.empty() || !(hi_ > lo_)) return minmax();
  if (symmetric_) {
    float t = entropy_threshold(hist_, hi_, quantized_bins);
    return {std::max(-t, min_), std::min(t, max_)};
  }
  // Asymmetric: the histogram spans [min, max]; search the threshold on |x| built from it.
  float amax = std::max(std::fabs(min_), std::fabs(max_));
  std::vector<double> abs_hist(hist_.size(), 0.0);
  double w = (hi_ - lo_) / (double)hist_.size();
  for (size_t i = 0; i < hist_.size(); ++i) {
    double center = std::fabs(lo_ + w * (i + 0.5));
    size_t b = std::min(hist_.size() - 1, (size_t)(center / amax * hist_.size()));
    abs_hist[b] += hist_[i];
  }
  float t = entropy_threshold(abs_hist, amax, quantized_bins);
  return {std::max(-t, min_), std::min(t, max_)};
}

}  // namespace kiln::quantize
