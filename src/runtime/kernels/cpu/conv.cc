// Conv and ConvTranspose over N-d spatial inputs (groups, strides, dilations, pads, auto_pad;
// ConvTranspose also output_padding and output_shape). Direct loops: these serve conformance and
// small vision graphs; transformer models never reach them.
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

class ConvKernel : public OpKernel {
 public:
  explicit ConvKernel(const KernelInfo& info)
      : attrs_(WindowAttrs::from(info.node)), group_(info.node.attr_int("group", 1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& wt = ctx.input(1);
    const Tensor* b = ctx.input_or_null(2);
    KILN_CHECK(x.rank() >= 3 && wt.rank() == x.rank(), BadInput, "{}: X {} and W {} must be [N, C, spatial...]",
               node.label(), shape_str(x.shape()), shape_str(wt.shape()));
    int64_t N = x.shape()[0], C = x.shape()[1], M = wt.shape()[0], G = group_;
    KILN_CHECK(G > 0 && C % G == 0 && M % G == 0 && wt.shape()[1] == C / G, BadInput,
               "{}: X {} and W {} do not fit group {}", node.label(), shape_str(x.shape()), shape_str(wt.shape()), G);
    std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end());
    WindowAttrs a = attrs_;
    if (a.kernel.empty()) a.kernel.assign(wt.shape().begin() + 2, wt.shape().end());
    Window w = resolve_window(a, in, node);
    Shape out{N, M};
    for (int64_t o : w.out) out.push_back(o);
    ctx.set_output(0, with_real_type(x, wt, b, node, [&](const Tensor& X, const Tensor& W, const Tensor* B, auto tag) {
      using T = decltype(tag);
      Tensor Y(X.dtype(), out);
      const T *xp = X.data<T>(), *wp = W.data<T>();
      T* yp = Y.data<T>();
      int64_t in_plane = shape_numel(in), out_plane = shape_numel(w.out), kvol = shape_numel(w.kernel);
      int64_t Cg = C / G, Mg = M / G;
      auto in_st = contiguous_strides(in), k_st = contiguous_strides(w.kernel);
      std::vector<int64_t> oc(w.nd, 0);
      for (int64_t o = 0; o < out_plane; ++o) {
        for (int64_t n = 0; n < N; ++n)
          for (int64_t m = 0; m < M; ++m) {
            int64_t g = m / Mg;
            T acc = B ? B->data<T>()[m] : T(0);
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

}  // namespace

KILN_REGISTER_KERNELS(register_conv_kernels) {
  r.add({DeviceType::Cpu, "", "Conv", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvKernel>(info); });
  r.add({DeviceType::Cpu, "", "ConvTranspose", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<ConvTransposeKernel>(info); });
}

}  // namespace kiln::cpu
