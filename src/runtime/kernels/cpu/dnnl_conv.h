// Float32 convolution and pooling by oneDNN, for the Conv / FusedConv / kiln:NhwcConv and pooling
// kernels. A convolution's tensors come in ONNX's dense [N, C, spatial...] layout, or channels-last
// (kiln:NhwcConv); the primitive reads and writes the layout oneDNN prefers (NHWC for oneDNN 2.6 on
// AVX-512), and where the two differ the copies in and out are part of the call. Constant weights are
// re-laid out once. Primitives are made once per geometry, input shape and thread count and kept;
// run() may be called from several threads at once (each call brings its own scratch memory:
// oneDNN's user scratchpad mode, one scratch area per calling thread).
#pragma once
#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace kiln::cpu {

// An activation applied to the convolution's result before it is written (oneDNN post-op).
struct ConvActivation {
  std::string name;    // "" (none), Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish
  float alpha = 0.f;   // LeakyRelu's slope, Clip's min, HardSigmoid's alpha
  float beta = 0.f;    // Clip's max, HardSigmoid's beta
  // Reads ORT's FusedConv form: activation name and activation_params. Throws Unsupported naming
  // `who` for an activation it does not know.
  static ConvActivation from(const std::string& name, const std::vector<float>& params, const std::string& who);
};

// The geometry of one convolution, in ONNX terms (dilations start at 1; pads are begin and end).
struct ConvGeometry {
  int64_t groups = 1;
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
  auto operator<=>(const ConvGeometry&) const = default;
};

class DnnlConv {
 public:
  explicit DnnlConv(ConvActivation activation);

  // Whether oneDNN can run this geometry at all (1 to 3 spatial axes, pads not negative).
  static bool supports(const ConvGeometry& g);

  // Re-lays out a constant weight tensor ([M, C/groups, k...], float32) once; it must not change
  // afterwards. Later runs with w == nullptr use it.
  void pack_weights(const Tensor& w);
  bool has_packed_weights() const { return packed_src_.defined(); }
  // Whether w is the tensor pack_weights was given (same memory, same shape).
  bool packs(const Tensor& w) const {
    return has_packed_weights() && w.raw() == packed_src_.raw() && w.shape() == packed_src_.shape();
  }

  // y [N, M, out...] = act(conv(x [N, C, in...], w) + bias). x, w, y dense float32; w null: the
  // packed weights; bias may be null. Returns false (having written nothing) when oneDNN cannot make
  // a primitive for these shapes, so the caller can use its own loop.
  // channels_last: x and y are stored [N, H, W, C] (2-D convolutions only); the shapes passed are
  // still the [N, C, H, W] ones.
  // sum (optional, y's shape and layout) is added before the activation (FusedConv's Z input).
  bool run(const ConvGeometry& g, const Shape& x_shape, const float* x, const Shape& w_shape, const float* w,
           const float* bias, const Shape& y_shape, float* y, bool channels_last = false, const float* sum = nullptr);

 private:
  struct Key {
    ConvGeometry g;
    Shape x, w;
    bool bias;
    bool packed;
    bool channels_last;
    bool sum;
    int threads;
    auto operator<=>(const Key&) const = default;
  };
  struct Prepared {
    bool ok = false;
    dnnl::convolution_forward prim;
    dnnl::memory::desc x_user, x_md, w_user, w_md, y_user, y_md, bias_md;
    dnnl::reorder x_in, y_out, w_in, z_in;  // set only where the layouts differ
    bool reorder_x = false, reorder_y = false, reorder_w = false;
    size_t scratch_bytes = 0;
    std::shared_ptr<dnnl::memory> packed;
  };
  std::shared_ptr<const Prepared> prepare(const Key& key);
  std::shared_ptr<dnnl::memory> packed_for(const dnnl::memory::desc& md);

  ConvActivation act_;
  std::mutex mu_;
  std::map<Key, std::shared_ptr<const Prepared>> cache_;
  std::deque<Key> order_;
  static constexpr size_t kMaxCached = 32;
  Tensor packed_src_;
  std::vector<std::shared_ptr<dnnl::memory>> packed_;
};

// Copies a float32 [N, C, H, W] tensor (shape nchw) to [N, H, W, C] (to_last) or back, by oneDNN's
// reorder. False when oneDNN cannot.
bool channels_reorder_f32(const Shape& nchw, const float* src, float* dst, bool to_last);

// MaxPool (no indices) and AveragePool over 1 to 3 spatial axes, float32, by oneDNN.
struct PoolGeometry {
  bool max = true;
  bool count_include_pad = false;
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;  // pad_end already fits the output
  auto operator<=>(const PoolGeometry&) const = default;
};

class DnnlPool {
 public:
  // Returns false (having written nothing) when oneDNN cannot make a primitive for these shapes.
  bool run(const PoolGeometry& g, const Shape& x_shape, const float* x, const Shape& y_shape, float* y);

 private:
  struct Key {
    PoolGeometry g;
    Shape x, y;
    int threads;
    auto operator<=>(const Key&) const = default;
  };
  struct Prepared {
    bool ok = false;
    dnnl::pooling_v2_forward prim;
    dnnl::memory::desc x_user, y_user;
    size_t scratch_bytes = 0;
  };
  std::shared_ptr<const Prepared> prepare(const Key& key);

  std::mutex mu_;
  std::map<Key, std::shared_ptr<const Prepared>> cache_;
  std::deque<Key> order_;
  static constexpr size_t kMaxCached = 32;
};

}  // namespace kiln::cpu
