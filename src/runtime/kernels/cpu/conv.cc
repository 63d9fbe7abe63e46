// Conv (and FusedConv), ConvInteger, QLinearConv and ConvTranspose over N-d spatial inputs (groups, strides,
// dilations, pads, auto_pad; ConvTranspose also output_padding and output_shape). Float32 Conv with 1 to 3
// spatial axes runs on oneDNN; everything else runs the direct loops here.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/dnnl_conv.h"
#include "runtime/kernels/cpu/window.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// Runs f with x, w, b as contiguous float or double tensors (16-bit floats go through float) and
// casts the result back.
template <typename F>
Tensor with_real_type(const Tensor& x, const Tensor& w, const Tensor* b, const Node& node, F&& f) {
  DType dt = x.dtype();
  KILN_CHECK(dtype_is_float(dt), BadInput, "{}: takes floating-point data, not {}", node.label(), dtype_name(dt));
  KILN_CHECK(w.dtype() == dt && (!b || b->dtype() == dt), BadInput, "{}: X, W and B must share a type",
             node.label());
  if (dt == DType::F64) return f(x, w, b, double{});
  if (dt == DType::F32) return f(x, w, b, float{});
  Tensor xf = x.cast(DType::F32), wf = w.cast(DType::F32), bf;
  if (b) bf = b->cast(DType::F32);
  return f(xf, wf, b ? &bf : nullptr, float{}).cast(dt);
}

// Calls f(spatial offset in the input plane, offset in the kernel) for every tap of output
// position `oc` that lands inside the input.
template <typename F>
void for_each_tap(const Window& w, const std::vector<int64_t>& oc, const std::vector<int64_t>& in_st,
                  const std::vector<int64_t>& k_st, F&& f) {
  int nd = w.nd;
  std::vector<int64_t> k(nd, 0);
  while (true) {
    int64_t off = 0, koff = 0;
    bool inside = true;
    for (int i = 0; i < nd; ++i) {
      int64_t p = oc[i] * w.stride[i] - w.pad_begin[i] + k[i] * w.dilation[i];
      if (p < 0 || p >= w.in[i]) { inside = false; break; }
      off += p * in_st[i];
      koff += k[i] * k_st[i];
    }
    if (inside) f(off, koff);
    int i = nd - 1;
    for (; i >= 0; --i) {
      if (++k[i] < w.kernel[i]) break;
      k[i] = 0;
    }
    if (i < 0) return;
  }
}

// The direct convolution: y[n, m, o] = b[m] + sum over the group's channels and kernel taps.
template <typename T>
void conv_direct(const T* xp, const T* wp, const T* bp, T* yp, int64_t N, int64_t C, int64_t M, int64_t G,
                 const Window& w) {
  int64_t in_plane = shape_numel(w.in), out_plane = shape_numel(w.out), kvol = shape_numel(w.kernel);
  int64_t Cg = C / G, Mg = M / G;
  auto in_st = contiguous_strides(w.in), k_st = contiguous_strides(w.kernel);
  std::vector<int64_t> oc(w.nd, 0);
  for (int64_t o = 0; o < out_plane; ++o) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m) {
        int64_t g = m / Mg;
        T acc = bp ? bp[m] : T(0);
        for (int64_t c = 0; c < Cg; ++c) {
          const T* xc = xp + (n * C + g * Cg + c) * in_plane;
          const T* wc = wp + (m * Cg + c) * kvol;
          for_each_tap(w, oc, in_st, k_st, [&](int64_t off, int64_t koff) { acc += xc[off] * wc[koff]; });
        }
        yp[(n * M + m) * out_plane + o] = acc;
      }
    for (int i = w.nd - 1; i >= 0; --i) {
      if (++oc[i] < w.out[i]) break;
      oc[i] = 0;
    }
  }
}

// A 4-D tensor with its axis 1 moved last ([N, C, H, W] -> [N, H, W, C]) or back. float32 goes
// through oneDNN's reorder; other types are copied element by element.
Tensor permute_channels(const Tensor& x, bool to_last) {
  Shape s = x.shape();
  Shape nchw = to_last ? s : Shape{s[0], s[3], s[1], s[2]};
  Shape out = to_last ? Shape{s[0], s[2], s[3], s[1]} : nchw;
  Tensor y(x.dtype(), out);
  if (y.numel() == 0) return y;
  if (x.dtype() == DType::F32 && channels_reorder_f32(nchw, x.data<float>(), y.data<float>(), to_last)) return y;
  int64_t N = nchw[0], C = nchw[1], HW = nchw[2] * nchw[3];
  size_t es = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) {
        int64_t first = (n * C + c) * HW + p, last = (n * HW + p) * C + c;
        std::memcpy(dst + (to_last ? last : first) * es, src + (to_last ? first : last) * es, es);
      }
  return y;
}
Tensor to_channels_last(const Tensor& x) { return permute_channels(x, true); }
Tensor to_channels_first(const Tensor& x) { return permute_channels(x, false); }

// Shape checks and geometry shared by Conv, ConvInteger and QLinearConv.
struct ConvSetup {
  int64_t N, C, M, G;
  Window w;
  Shape out;
};

// xs: X's shape in [N, C, spatial...] order.
ConvSetup conv_setup(const Shape& xs, const Tensor& wt, const WindowAttrs& attrs, int64_t group, const Node& node) {
  KILN_CHECK(xs.size() >= 3 && (size_t)wt.rank() == xs.size(), BadInput, "{}: X {} and W {} must be [N, C, spatial...]",
             node.label(), shape_str(xs), shape_str(wt.shape()));
  ConvSetup s;
  s.N = xs[0];
  s.C = xs[1];
  s.M = wt.shape()[0];
  s.G = group;
  KILN_CHECK(s.G > 0 && s.C % s.G == 0 && s.M % s.G == 0 && wt.shape()[1] == s.C / s.G, BadInput,
             "{}: X {} and W {} do not fit group {}", node.label(), shape_str(xs), shape_str(wt.shape()), s.G);
  std::vector<int64_t> in(xs.begin() + 2, xs.end());
  WindowAttrs a = attrs;
  if (a.kernel.empty()) a.kernel.assign(wt.shape().begin() + 2, wt.shape().end());
  s.w = resolve_window(a, in, node);
  s.out = {s.N, s.M};
  for (int64_t o : s.w.out) s.out.push_back(o);
  return s;
}

// (v - zero point) as int32 for uint8/int8 tensors; the zero point is a scalar or, for weights,
// one per output channel (the first axis).
Tensor centred_int32(const Tensor& t, const Tensor* zp, const Node& node, const char* what) {
  KILN_CHECK(t.dtype() == DType::U8 || t.dtype() == DType::I8, BadInput, "{}: {} must be uint8 or int8, not {}",
             node.label(), what, dtype_name(t.dtype()));
  Tensor out(DType::I32, t.shape());
  int32_t* op = out.data<int32_t>();
  int64_t per = zp && zp->numel() > 1 ? t.numel() / zp->numel() : t.numel();
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t z = zp && zp->numel() ? zp->item_i64(zp->numel() > 1 ? i / per : 0) : 0;
    op[i] = (int32_t)(t.item_i64(i) - z);
  }
  return out;
}

// Applies a FusedConv activation to float results the direct loop computed.
template <typename T>
void activate(const ConvActivation& a, T* y, int64_t n) {
  if (a.name.empty()) return;
  for (int64_t i = 0; i < n; ++i) {
    double v = (double)y[i];
    if (a.name == "Relu") v = v > 0 ? v : 0;
    else if (a.name == "LeakyRelu") v = v >= 0 ? v : a.alpha * v;
    else if (a.name == "Clip") v = std::min<double>(std::max<double>(v, a.alpha), a.beta);
    else if (a.name == "Sigmoid") v = 1 / (1 + std::exp(-v));
    else if (a.name == "Tanh") v = std::tanh(v);
    else if (a.name == "HardSigmoid") v = std::clamp(a.alpha * v + a.beta, 0.0, 1.0);
    else v = v * std::clamp(v / 6 + 0.5, 0.0, 1.0);  // HardSwish
    y[i] = T(v);
  }
}

// Conv, and com.microsoft FusedConv (Conv + activation: ONNX Runtime's fused form, which kiln's own
// conv_activation_fusion pass also writes). Float32 with 1 to 3 spatial axes runs on oneDNN
// (dnnl_conv.h), with constant weights re-laid out once; other types and shapes run the direct loop.
class ConvKernel : public OpKernel {
 public:
  // channels_last: kiln:NhwcConv, whose X and Y are [N, H, W, C] (the conv_channels_last pass).
  ConvKernel(const KernelInfo& info, bool channels_last)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)),
        act_(ConvActivation::from(info.node.attr_string("activation", ""), info.node.attr_floats("activation_params"),
                                  info.node.label())),
        channels_last_(channels_last), dnnl_(act_) {
    const Tensor* w = info.constant(1);
    if (w && w->dtype() == DType::F32 && w->numel() > 0 && w->rank() >= 3 && w->rank() <= 5) dnnl_.pack_weights(*w);
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& wt = ctx.input(1);
    const Tensor* b = ctx.input_or_null(2);
    const Tensor* z = ctx.input_or_null(3);  // FusedConv's Z: added before the activation
    KILN_CHECK(!channels_last_ || x.rank() == 4, BadInput, "{}: X must be [N, H, W, C], has shape {}", node.label(),
               shape_str(x.shape()));
    Shape xs = channels_last_ ? Shape{x.dim(0), x.dim(3), x.dim(1), x.dim(2)} : x.shape();
    ConvSetup cs = conv_setup(xs, wt, attrs_, group_, node);
    const Window& w = cs.w;
    Shape out = cs.out;
    if (channels_last_) out = {out[0], out[2], out[3], out[1]};
    KILN_CHECK(!z || (z->shape() == out && z->dtype() == x.dtype()), BadInput, "{}: Z must be {} {}, not {} {}",
               node.label(), dtype_name(x.dtype()), shape_str(out), dtype_name(z->dtype()), shape_str(z->shape()));
    if (x.dtype() == DType::F32 && wt.dtype() == DType::F32 &&
        (!b || (b->dtype() == DType::F32 && b->numel() == cs.M))) {
      ConvGeometry g{cs.G, w.kernel, w.stride, w.dilation, w.pad_begin, w.pad_end};
      if (DnnlConv::supports(g) && x.numel() > 0 && shape_numel(out) > 0) {
        Tensor& y = ctx.allocate_output(0, DType::F32, out);
        if (dnnl_.run(g, xs, x.data<float>(), wt.shape(), dnnl_.packs(wt) ? nullptr : wt.data<float>(),
                      b ? b->data<float>() : nullptr, cs.out, y.data<float>(), channels_last_,
                      z ? z->data<float>() : nullptr))
          return;
      }
    }
    if (!channels_last_) return ctx.set_output(0, run_direct(node, x, wt, b, z, cs));
    // The loop works on [N, C, spatial]: move the channels there and back.
    Tensor zf = z ? to_channels_first(*z) : Tensor();
    ctx.set_output(0, to_channels_last(run_direct(node, to_channels_first(x), wt, b, z ? &zf : nullptr, cs)));
  }

 private:
  Tensor run_direct(const Node& node, const Tensor& x, const Tensor& wt, const Tensor* b, const Tensor* z,
                    const ConvSetup& cs) {
    return with_real_type(x, wt, b, node, [&](const Tensor& X, const Tensor& W, const Tensor* B, auto tag) {
      using T = decltype(tag);
      Tensor Y(X.dtype(), cs.out);
      conv_direct<T>(X.data<T>(), W.data<T>(), B ? B->data<T>() : nullptr, Y.data<T>(), cs.N, cs.C, cs.M, cs.G, cs.w);
      if (z) {
        Tensor Z = z->dtype() == X.dtype() ? *z : z->cast(X.dtype());
        const T* zp = Z.data<T>();
        T* yp = Y.data<T>();
        for (int64_t i = 0; i < Y.numel(); ++i) yp[i] = T(yp[i] + zp[i]);
      }
      activate(act_, Y.data<T>(), Y.numel());
      return Y;
    });
  }

  WindowAttrs attrs_;
  int64_t group_;
  ConvActivation act_;
  bool channels_last_;
  DnnlConv dnnl_;
};

// kiln:Layout {to: "nhwc" | "nchw"}: a 4-D tensor's channels moved last or back (conv_channels_last).
class LayoutKernel : public OpKernel {
 public:
  explicit LayoutKernel(const KernelInfo& info) : to_nhwc_(info.node.attr_string("to", "") == "nhwc") {
    std::string to = info.node.attr_string("to", "");
    KILN_CHECK(to == "nhwc" || to == "nchw", BadModel, "{}: attribute 'to' must be nhwc or nchw, not '{}'",
               info.node.label(), to);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() == 4, BadInput, "{}: takes a 4-D tensor, not {}", ctx.node().label(), shape_str(x.shape()));
    ctx.set_output(0, to_nhwc_ ? to_channels_last(x) : to_channels_first(x));
  }

 private:
  bool to_nhwc_;
};

class ConvTransposeKernel : public OpKernel {
 public:
  explicit ConvTransposeKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)),
        output_padding_(info.node.attr_ints("output_padding")), output_shape_(info.node.attr_ints("output_shape")) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& wt = ctx.input(1);
    const Tensor* b = ctx.input_or_null(2);
    KILN_CHECK(x.rank() >= 3 && wt.rank() == x.rank(), BadInput, "{}: X {} and W {} must be [N, C, spatial...]",
               node.label(), shape_str(x.shape()), shape_str(wt.shape()));
    int nd = x.rank() - 2;
    int64_t N = x.shape()[0], C = x.shape()[1], G = group_, Mg = wt.shape()[1], M = Mg * G;
    KILN_CHECK(G > 0 && C % G == 0 && wt.shape()[0] == C, BadInput, "{}: X {} and W {} do not fit group {}",
               node.label(), shape_str(x.shape()), shape_str(wt.shape()), G);
    std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end());
    std::vector<int64_t> kernel = attrs_.kernel.empty() ? std::vector<int64_t>(wt.shape().begin() + 2, wt.shape().end())
                                                        : attrs_.kernel;
    auto vec_or = [nd](const std::vector<int64_t>& v, int64_t d) { return v.empty() ? std::vector<int64_t>(nd, d) : v; };
    std::vector<int64_t> stride = vec_or(attrs_.strides, 1), dil = vec_or(attrs_.dilations, 1),
                         opad = vec_or(output_padding_, 0);
    std::vector<int64_t> pb(nd, 0), pe(nd, 0), outs(nd);
    for (int i = 0; i < nd; ++i) {
      int64_t full = stride[i] * (in[i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1;
      if (!output_shape_.empty() || attrs_.auto_pad == "SAME_UPPER" || attrs_.auto_pad == "SAME_LOWER") {
        int64_t want = !output_shape_.empty()
                           ? output_shape_[output_shape_.size() - nd + i]
                           : in[i] * stride[i];
        int64_t total = std::max<int64_t>(full - want, 0);
        if (attrs_.auto_pad == "SAME_LOWER") {
          pb[i] = total - total / 2;
        } else {
          pb[i] = total / 2;
        }
        pe[i] = total - pb[i];
        outs[i] = want;
      } else {
        if (!attrs_.pads.empty() && attrs_.auto_pad != "VALID") {
          pb[i] = attrs_.pads[i];
          pe[i] = attrs_.pads[i + nd];
        }
        outs[i] = full - pb[i] - pe[i];
      }
      KILN_CHECK(outs[i] >= 0, BadInput, "{}: negative output size", node.label());
    }
    Shape out{N, M};
    for (int64_t o : outs) out.push_back(o);
    ctx.set_output(0, with_real_type(x, wt, b, node, [&](const Tensor& X, const Tensor& W, const Tensor* B, auto tag) {
      using T = decltype(tag);
      Tensor Y(X.dtype(), out);
      const T *xp = X.data<T>(), *wp = W.data<T>();
      T* yp = Y.data<T>();
      int64_t in_plane = shape_numel(in), out_plane = shape_numel(outs), kvol = shape_numel(kernel);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t o = 0; o < out_plane; ++o) yp[(n * M + m) * out_plane + o] = B ? B->data<T>()[m] : T(0);
      auto out_st = contiguous_strides(outs);
      int64_t Cg = C / G;
      std::vector<int64_t> ic(nd), kc(nd);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
          int64_t g = c / Cg;
          std::fill(ic.begin(), ic.end(), 0);
          for (int64_t i = 0; i < in_plane; ++i) {
            T xv = xp[(n * C + c) * in_plane + i];
            std::fill(kc.begin(), kc.end(), 0);
            for (int64_t k = 0; k < kvol; ++k) {
              int64_t off = 0;
              bool inside = true;
              for (int d = 0; d < nd; ++d) {
                int64_t p = ic[d] * stride[d] - pb[d] + kc[d] * dil[d];
                if (p < 0 || p >= outs[d]) { inside = false; break; }
                off += p * out_st[d];
              }
              if (inside)
                for (int64_t m = 0; m < Mg; ++m)
                  yp[(n * M + g * Mg + m) * out_plane + off] += xv * wp[(c * Mg + m) * kvol + k];
              for (int d = nd - 1; d >= 0; --d) {
                if (++kc[d] < kernel[d]) break;
                kc[d] = 0;
              }
            }
            for (int d = nd - 1; d >= 0; --d) {
              if (++ic[d] < in[d]) break;
              ic[d] = 0;
            }
          }
        }
      return Y;
    }));
  }

 private:
  WindowAttrs attrs_;
  int64_t group_;
  std::vector<int64_t> output_padding_, output_shape_;
};

// ConvInteger: int32 sums of (x - x_zero_point) * (w - w_zero_point).
class ConvIntegerKernel : public OpKernel {
 public:
  explicit ConvIntegerKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    ConvSetup cs = conv_setup(ctx.input(0).shape(), ctx.input(1), attrs_, group_, node);
    Tensor X = centred_int32(ctx.input(0), ctx.input_or_null(2), node, "x");
    Tensor W = centred_int32(ctx.input(1), ctx.input_or_null(3), node, "w");
    Tensor& Y = ctx.allocate_output(0, DType::I32, cs.out);
    conv_direct<int32_t>(X.data<int32_t>(), W.data<int32_t>(), nullptr, Y.data<int32_t>(), cs.N, cs.C, cs.M, cs.G,
                         cs.w);
  }

 private:
  WindowAttrs attrs_;
  int64_t group_;
};

// QLinearConv: the integer convolution plus bias, rescaled by x_scale * w_scale / y_scale (per output
// channel when w_scale is), rounded half to even, offset by y_zero_point and saturated.
class QLinearConvKernel : public OpKernel {
 public:
  explicit QLinearConvKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& wt = ctx.input(3);
    ConvSetup cs = conv_setup(x.shape(), wt, attrs_, group_, node);
    Tensor X = centred_int32(x, &ctx.input(2), node, "x");
    Tensor W = centred_int32(wt, &ctx.input(5), node, "w");
    const Tensor* B = ctx.input_or_null(8);
    Tensor bias;
    if (B) bias = B->cast(DType::I32);
    Tensor acc(DType::I32, cs.out);
    conv_direct<int32_t>(X.data<int32_t>(), W.data<int32_t>(), B ? bias.data<int32_t>() : nullptr, acc.data<int32_t>(),
                         cs.N, cs.C, cs.M, cs.G, cs.w);
    double xs = ctx.input(1).item_f64(0), ys = ctx.input(6).item_f64(0);
    const Tensor& ws = ctx.input(4);
    const Tensor& yzp = ctx.input(7);
    DType yt = yzp.dtype();
    double lo = yt == DType::U8 ? 0 : -128, hi = yt == DType::U8 ? 255 : 127;
    double z = yzp.item_f64(0);
    Tensor& Y = ctx.allocate_output(0, yt, cs.out);
    int64_t plane = shape_numel(cs.w.out);
    const int32_t* ap = acc.data<int32_t>();
    for (int64_t i = 0; i < acc.numel(); ++i) {
      int64_t m = (i / plane) % cs.M;
      double scale = xs * ws.item_f64(ws.numel() > 1 ? m : 0) / ys;
      double v = std::clamp(std::nearbyint(ap[i] * scale) + z, lo, hi);
      if (yt == DType::U8) Y.data<uint8_t>()[i] = (uint8_t)v;
      else Y.data<int8_t>()[i] = (int8_t)v;
    }
  }

 private:
  WindowAttrs attrs_;
  int64_t group_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_conv_kernels) {
  r.add({DeviceType::Cpu, "", "Conv", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvKernel>(info, false); });
  r.add({DeviceType::Cpu, "com.microsoft", "FusedConv", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvKernel>(info, false); });
  r.add({DeviceType::Cpu, "kiln", "NhwcConv", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvKernel>(info, true); });
  r.add({DeviceType::Cpu, "kiln", "Layout", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<LayoutKernel>(info); });
  r.add({DeviceType::Cpu, "", "ConvInteger", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvIntegerKernel>(info); });
  r.add({DeviceType::Cpu, "", "QLinearConv", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<QLinearConvKernel>(info); });
  r.add({DeviceType::Cpu, "", "ConvTranspose", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvTransposeKernel>(info); });
}

}  // namespace kiln::cpu
