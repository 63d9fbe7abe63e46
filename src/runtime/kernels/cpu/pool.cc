// MaxPool (with optional argmax indices), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool,
// GlobalLpPool over N-d spatial inputs [N, C, D1, D2, ...], and MaxUnpool.
#include <cmath>
#include <limits>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/dnnl_conv.h"
#include "runtime/kernels/cpu/window.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

enum class PoolKind { Max, Average, Lp };

// Calls f(input offset within one channel, coordinates inside) for every kernel tap of output
// position `o` (coordinates `oc`) that falls inside the input; `outside` counts taps in the padding
// that are still within the padded extent (for count_include_pad).
struct Taps {
  const Window& w;
  std::vector<int64_t> in_strides;
  explicit Taps(const Window& win) : w(win), in_strides(win.nd, 1) {
    for (int i = win.nd - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * win.in[i + 1];
  }
  template <typename F>
  void visit(const std::vector<int64_t>& oc, F&& f, int64_t* padded_count) const {
    int nd = w.nd;
    std::vector<int64_t> k(nd, 0);
    int64_t padded = 0;
    while (true) {
      int64_t off = 0;
      bool inside = true, within_pad = true;
      for (int i = 0; i < nd; ++i) {
        int64_t p = oc[i] * w.stride[i] - w.pad_begin[i] + k[i] * w.dilation[i];
        if (p < 0 || p >= w.in[i]) inside = false;
        if (p < -w.pad_begin[i] || p >= w.in[i] + w.pad_end[i]) within_pad = false;
        off += p * in_strides[i];
      }
      if (within_pad) ++padded;
      if (inside) f(off);
      int i = nd - 1;
      for (; i >= 0; --i) {
        if (++k[i] < w.kernel[i]) break;
        k[i] = 0;
      }
      if (i < 0) break;
    }
    if (padded_count) *padded_count = padded;
  }
};

class PoolKernel : public OpKernel {
 public:
  PoolKernel(const KernelInfo& info, PoolKind kind, bool global)
      : kind_(kind), global_(global), attrs_(WindowAttrs::from(info.node)),
        count_include_pad_(info.node.attr_int("count_include_pad", 0) != 0),
        storage_order_(info.node.attr_int("storage_order", 0)), p_(info.node.attr_int("p", 2)) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    KILN_CHECK(x.rank() >= 3, BadInput, "{}: input must be [N, C, spatial...], has shape {}", node.label(),
               shape_str(x.shape()));
    std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end());
    WindowAttrs a = attrs_;
    if (global_) {
      a = WindowAttrs{};
      a.kernel = in;
    }
    Window w = resolve_window(a, in, node);
    Shape out_shape{x.shape()[0], x.shape()[1]};
    for (int64_t o : w.out) out_shape.push_back(o);
    int64_t planes = x.shape()[0] * x.shape()[1], in_plane = shape_numel(in), out_plane = shape_numel(w.out);
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    bool want_idx = kind_ == PoolKind::Max && ctx.output_wanted(1);
    int64_t* idx = want_idx ? ctx.allocate_output(1, DType::I64, out_shape).data<int64_t>() : nullptr;
    if (x.dtype() == DType::F32 && !idx && y.numel() > 0 && kind_ != PoolKind::Lp) {
      if (global_ ? global_f32(x, y, planes, in_plane) : dnnl_f32(x, y, w)) return;
    }
    Taps taps(w);
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: pooling does not take bool", node.label()));
      } else {
        const T* xp = x.data<T>();
        T* yp = y.data<T>();
        std::vector<int64_t> oc(w.nd, 0);
        for (int64_t o = 0; o < out_plane; ++o) {
          for (int64_t pl = 0; pl < planes; ++pl) {
            const T* src = xp + pl * in_plane;
            double acc = kind_ == PoolKind::Max ? -std::numeric_limits<double>::infinity() : 0.0;
            int64_t count = 0, best = -1, padded = 0;
            taps.visit(
                oc,
                [&](int64_t off) {
                  double v = (double)src[off];
                  if (kind_ == PoolKind::Max) {
                    if (best < 0 || v > acc) { acc = v; best = off; }
                  } else if (kind_ == PoolKind::Lp) {
                    acc += std::pow(std::fabs(v), (double)p_);
                  } else {
                    acc += v;
                  }
                  ++count;
                },
                &padded);
            double r = acc;
            if (kind_ == PoolKind::Average) r = acc / (double)(count_include_pad_ ? padded : std::max<int64_t>(count, 1));
            if (kind_ == PoolKind::Lp) r = std::pow(acc, 1.0 / (double)p_);
            yp[pl * out_plane + o] = T(r);
            if (idx) {
              int64_t flat = best;
              if (storage_order_ == 1 && best >= 0) {  // column-major position inside the plane
                std::vector<int64_t> c(w.nd);
                int64_t rem = best;
                for (int i = w.nd - 1; i >= 0; --i) { c[i] = rem % w.in[i]; rem /= w.in[i]; }
                flat = 0;
                for (int i = w.nd - 1; i >= 0; --i) flat = flat * w.in[i] + c[i];
              }
              idx[pl * out_plane + o] = pl * in_plane + flat;
            }
          }
          for (int i = w.nd - 1; i >= 0; --i) {
            if (++oc[i] < w.out[i]) break;
            oc[i] = 0;
          }
        }
      }
    });
  }

 private:
  // GlobalAveragePool / GlobalMaxPool on float32: one pass per plane, planes in parallel.
  bool global_f32(const Tensor& x, Tensor& y, int64_t planes, int64_t in_plane) const {
    if (in_plane <= 0) return false;
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    bool max = kind_ == PoolKind::Max;
    parallel_for(planes, in_plane, [&](long begin, long end) {
      for (long pl = begin; pl < end; ++pl) {
        const float* src = xp + pl * in_plane;
        if (max) {
          float m = src[0];
          for (int64_t i = 1; i < in_plane; ++i) m = src[i] > m ? src[i] : m;
          yp[pl] = m;
        } else {
          float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 8 <= in_plane; i += 8)
            for (int j = 0; j < 8; ++j) acc[j] += src[i + j];
          float sum = 0;
          for (; i < in_plane; ++i) sum += src[i];
          for (int j = 0; j < 8; ++j) sum += acc[j];
          yp[pl] = sum / (float)in_plane;
        }
      }
    });
    return true;
  }

  // MaxPool (without indices) and AveragePool on float32 by oneDNN; false when it cannot take them.
  bool dnnl_f32(const Tensor& x, Tensor& y, const Window& w) {
    if (w.nd < 1 || w.nd > 3) return false;
    PoolGeometry g{kind_ == PoolKind::Max, count_include_pad_, w.kernel, w.stride, w.dilation, w.pad_begin, {}};
    for (int i = 0; i < w.nd; ++i) {
      if (w.pad_begin[i] < 0 || w.pad_end[i] < 0) return false;
      // oneDNN wants the end padding that yields the output size (ceil_mode may add some).
      int64_t ext = (w.kernel[i] - 1) * w.dilation[i] + 1;
      int64_t end = (w.out[i] - 1) * w.stride[i] + ext - w.in[i] - w.pad_begin[i];
      // Counting padding that ceil_mode added would differ from ONNX, which counts only the pads given.
      if (end != w.pad_end[i] && kind_ == PoolKind::Average && count_include_pad_) return false;
      if (end < 0) return false;
      g.pad_end.push_back(end);
    }
    return dnnl_.run(g, x.shape(), x.data<float>(), y.shape(), y.data<float>());
  }

  PoolKind kind_;
  bool global_;
  WindowAttrs attrs_;
  bool count_include_pad_;
  int64_t storage_order_, p_;
  DnnlPool dnnl_;
};

// MaxUnpool: scatters X to the flat positions I recorded by MaxPool; zeros elsewhere.
class MaxUnpoolKernel : public OpKernel {
 public:
  explicit MaxUnpoolKernel(const KernelInfo& info) : attrs_(WindowAttrs::from(info.node)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    KILN_CHECK(x.rank() >= 3 && ind.shape() == x.shape(), BadInput, "{}: X {} and I {} must match", node.label(),
               shape_str(x.shape()), shape_str(ind.shape()));
    int nd = x.rank() - 2;
    // The default output shape; indices count positions in it (as MaxPool recorded them).
    Shape dflt{x.shape()[0], x.shape()[1]};
    KILN_CHECK((int)attrs_.kernel.size() == nd, BadModel, "{}: kernel_shape must have {} entries", node.label(), nd);
    for (int i = 0; i < nd; ++i) {
      int64_t s = attrs_.strides.empty() ? 1 : attrs_.strides[i];
      int64_t pads = attrs_.pads.empty() ? 0 : attrs_.pads[i] + attrs_.pads[i + nd];
      dflt.push_back((x.shape()[2 + i] - 1) * s + attrs_.kernel[i] - pads);
    }
    Shape out = dflt;
    if (ctx.has_input(2)) {
      auto v = ctx.input(2).to_i64_vector();
      KILN_CHECK((int)v.size() == x.rank(), BadInput, "{}: output_shape must have {} entries", node.label(), x.rank());
      for (int d = 0; d < x.rank(); ++d) {
        KILN_CHECK(v[d] >= dflt[d], BadInput, "{}: output_shape {} is smaller than the unpooled shape {}",
                   node.label(), shape_str(v), shape_str(dflt));
        out[d] = v[d];
      }
    }
    auto dst = contiguous_strides(dflt), ost = contiguous_strides(out);
    int64_t dn = shape_numel(dflt);
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* yp = y.data<T>();
      const T* xp = x.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) yp[i] = T(0);
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t at = ind.item_i64(i);
        KILN_CHECK(at >= 0 && at < dn, BadInput, "{}: index {} is outside the output", node.label(), at);
        int64_t o = 0;
        for (int d = 0; d < x.rank(); ++d) o += (at / dst[d]) % dflt[d] * ost[d];
        yp[o] = xp[i];
      }
    });
  }

 private:
  WindowAttrs attrs_;
};

KernelFactory pool(PoolKind kind, bool global) {
  return [kind, global](const KernelInfo& info) { return std::make_unique<PoolKernel>(info, kind, global); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_pool_kernels) {
  r.add({DeviceType::Cpu, "", "MaxPool", 1, kMaxOpset}, pool(PoolKind::Max, false));
  r.add({DeviceType::Cpu, "", "AveragePool", 1, kMaxOpset}, pool(PoolKind::Average, false));
  r.add({DeviceType::Cpu, "", "LpPool", 1, kMaxOpset}, pool(PoolKind::Lp, false));
  r.add({DeviceType::Cpu, "", "GlobalMaxPool", 1, kMaxOpset}, pool(PoolKind::Max, true));
  r.add({DeviceType::Cpu, "", "GlobalAveragePool", 1, kMaxOpset}, pool(PoolKind::Average, true));
  r.add({DeviceType::Cpu, "", "GlobalLpPool", 2, kMaxOpset}, pool(PoolKind::Lp, true));
  r.add({DeviceType::Cpu, "", "MaxUnpool", 9, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MaxUnpoolKernel>(info); });
}

}  // namespace kiln::cpu
