// Conv, ConvInteger, QLinearConv and ConvTranspose over N-d spatial inputs (groups, strides, dilations, pads, auto_pad;
// ConvTranspose also output_padding and output_shape). Direct loops: these serve conformance and
// small vision graphs; transformer models never reach them.
#include <cmath>

#include "runtime/kernels/cpu/common.h"
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

// Shape checks and geometry shared by Conv, ConvInteger and QLinearConv.
struct ConvSetup {
  int64_t N, C, M, G;
  Window w;
  Shape out;
};

ConvSetup conv_setup(const Tensor& x, const Tensor& wt, const WindowAttrs& attrs, int64_t group, const Node& node) {
  KILN_CHECK(x.rank() >= 3 && wt.rank() == x.rank(), BadInput, "{}: X {} and W {} must be [N, C, spatial...]",
             node.label(), shape_str(x.shape()), shape_str(wt.shape()));
  ConvSetup s;
  s.N = x.shape()[0];
  s.C = x.shape()[1];
  s.M = wt.shape()[0];
  s.G = group;
  KILN_CHECK(s.G > 0 && s.C % s.G == 0 && s.M % s.G == 0 && wt.shape()[1] == s.C / s.G, BadInput,
             "{}: X {} and W {} do not fit group {}", node.label(), shape_str(x.shape()), shape_str(wt.shape()), s.G);
  std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end());
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

class ConvKernel : public OpKernel {
 public:
  explicit ConvKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& wt = ctx.input(1);
    const Tensor* b = ctx.input_or_null(2);
    ConvSetup cs = conv_setup(x, wt, attrs_, group_, node);
    int64_t N = cs.N, C = cs.C, M = cs.M, G = cs.G;
    const Window& w = cs.w;
    const Shape& out = cs.out;
    ctx.set_output(0, with_real_type(x, wt, b, node, [&](const Tensor& X, const Tensor& W, const Tensor* B, auto tag) {
      using T = decltype(tag);
      Tensor Y(X.dtype(), out);
      conv_direct<T>(X.data<T>(), W.data<T>(), B ? B->data<T>() : nullptr, Y.data<T>(), N, C, M, G, w);
      return Y;
    }));
  }

 private:
  WindowAttrs attrs_;
  int64_t group_;
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
    ConvSetup cs = conv_setup(ctx.input(0), ctx.input(1), attrs_, group_, node);
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
    ConvSetup cs = conv_setup(x, wt, attrs_, group_, node);
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
        [](const KernelInfo& info) { return std::make_unique<ConvKernel>(info); });
  r.add({DeviceType::Cpu, "", "ConvInteger", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvIntegerKernel>(info); });
  r.add({DeviceType::Cpu, "", "QLinearConv", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<QLinearConvKernel>(info); });
  r.add({DeviceType::Cpu, "", "ConvTranspose", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvTransposeKernel>(info); });
}

}  // namespace kiln::cpu
