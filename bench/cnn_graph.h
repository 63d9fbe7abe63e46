// Benchmark CNN graphs written with kiln's GraphBuilder, with deterministic random weights (nothing
// large is committed; bench/make_cnn_model writes them, tests build small ones in memory):
//  - mobilenet: MobileNetV2's layer structure (stem 3x3 stride-2 Conv + Relu6, 17 inverted-residual
//    blocks: 1x1 expand + Relu6, 3x3 depthwise + Relu6, 1x1 project, residual Add where shapes allow;
//    1x1 Conv to 1280 + Relu6, GlobalAveragePool, Flatten, Gemm to 1000 classes). Relu6 is Clip(0, 6)
//    with constant min/max inputs, as torch.onnx.export writes it at opset 11 and later. Conv biases
//    stand for folded BatchNorms. Input [batch, 3, size, size].
//  - pointwise: one 1x1 Conv 240 -> 240 with bias on [batch, 240, 12, 80] (the OCR graph's slow case).
// Header-only so that the bench tool and the tests share it without a library of their own.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "export/graph_builder.h"

namespace kiln::bench {

// A small deterministic generator (SplitMix64) so the weights are the same on every machine.
class WeightRng {
 public:
  explicit WeightRng(uint64_t seed) : s_(seed) {}
  // Uniform in [-1, 1).
  float next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
  }
  Tensor tensor(Shape shape, float scale) {
    Tensor t(DType::F32, shape);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * next();
    return t;
  }

 private:
  uint64_t s_;
};

class CnnBuilder {
 public:
  explicit CnnBuilder(const std::string& name, uint64_t seed = 1) : b_(name, 17), rng_(seed) {}

  // Conv with a bias (a folded BatchNorm); weights scaled so activations keep their size (He init,
  // uniform), biases small.
  std::string conv(const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group,
                   int64_t dilation = 1) {
    std::string p = "conv" + std::to_string(count_++);
    int64_t fan_in = cin / group * k * k;
    float scale = std::sqrt(6.f / (float)fan_in);
    std::string w = b_.initializer(p + ".weight", rng_.tensor({cout, cin / group, k, k}, scale));
    std::string bias = b_.initializer(p + ".bias", rng_.tensor({cout}, 0.1f));
    int64_t pad = (k - 1) / 2 * dilation;
    return b_.op("Conv", {x, w, bias},
                 {{"kernel_shape", attr_ints({k, k})}, {"strides", attr_ints({stride, stride})},
                  {"pads", attr_ints({pad, pad, pad, pad})}, {"dilations", attr_ints({dilation, dilation})},
                  {"group", attr_int(group)}});
  }
  std::string relu6(const std::string& x) {
    if (zero_.empty()) {
      zero_ = b_.const_f32(0.f);
      six_ = b_.const_f32(6.f);
    }
    return b_.op("Clip", {x, zero_, six_});
  }
  exporting::GraphBuilder& builder() { return b_; }
  WeightRng& rng() { return rng_; }

 private:
  exporting::GraphBuilder b_;
  WeightRng rng_;
  int count_ = 0;
  std::string zero_, six_;
};

// MobileNetV2's structure at input size `size` (224 for the benchmark; tests use smaller ones).
// width_div divides every channel count (tests: 4 keeps the structure and runs fast).
inline Model mobilenet_like(int64_t size = 224, int64_t width_div = 1, int64_t classes = 1000) {
  CnnBuilder c("cnn_mobilenet", 20261130);
  exporting::GraphBuilder& b = c.builder();
  auto ch = [&](int64_t v) { return std::max<int64_t>(v / width_div, 4); };
  std::string x = b.input("input", DType::F32, {Dim{{}, "batch"}, Dim{3, ""}, Dim{size, ""}, Dim{size, ""}});
  int64_t cin = ch(32);
  x = c.relu6(c.conv(x, 3, cin, 3, 2, 1));
  // (expansion t, channels c, repeats n, first stride s), as in the MobileNetV2 paper.
  const int64_t blocks[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  for (const auto& blk : blocks) {
    int64_t t = blk[0], cout = ch(blk[1]), n = blk[2];
    for (int64_t r = 0; r < n; ++r) {
      int64_t stride = r == 0 ? blk[3] : 1, hidden = cin * t;
      std::string h = x;
      if (t != 1) h = c.relu6(c.conv(h, cin, hidden, 1, 1, 1));
      h = c.relu6(c.conv(h, hidden, hidden, 3, stride, hidden));
      h = c.conv(h, hidden, cout, 1, 1, 1);
      x = stride == 1 && cin == cout ? b.op("Add", {x, h}) : h;
      cin = cout;
    }
  }
  int64_t last = ch(1280);
  x = c.relu6(c.conv(x, cin, last, 1, 1, 1));
  x = b.op("GlobalAveragePool", {x});
  x = b.op("Flatten", {x}, {{"axis", attr_int(1)}});
  std::string w = b.initializer("classifier.weight", c.rng().tensor({classes, last}, std::sqrt(6.f / (float)last)));
  std::string bias = b.initializer("classifier.bias", c.rng().tensor({classes}, 0.1f));
  x = b.op("Gemm", {x, w, bias}, {{"transB", attr_int(1)}});
  b.output(x, "logits", DType::F32, {Dim{{}, "batch"}, Dim{classes, ""}});
  return b.finish();
}

// One pointwise Conv channels -> channels on [batch, channels, h, w] (the OCR graph: 240 on 12 x 80).
inline Model pointwise_conv(int64_t channels = 240, int64_t h = 12, int64_t w = 80) {
  CnnBuilder c("cnn_pointwise", 7);
  exporting::GraphBuilder& b = c.builder();
  std::string x = b.input("input", DType::F32, {Dim{{}, "batch"}, Dim{channels, ""}, Dim{h, ""}, Dim{w, ""}});
  x = c.conv(x, channels, channels, 1, 1, 1);
  b.output(x, "output", DType::F32, {Dim{{}, "batch"}, Dim{channels, ""}, Dim{h, ""}, Dim{w, ""}});
  return b.finish();
}

}  // namespace kiln::bench
