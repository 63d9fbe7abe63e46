// Normalisations: LayerNormalization (ai.onnx 17 and com.microsoft, with the optional Mean and
// InvStdDev outputs), SimplifiedLayerNormalization (RMS norm), BatchNormalization (inference, and training_mode from opset 14),
// InstanceNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization, LRN.
// Everything computes in float32 (other float types are converted on the way in and out).
#include <cmath>
#include <limits>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/kernels/cpu/quant_simd.h"
#include "runtime/kernels/cpu/value_range.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

Tensor as_f32(const Tensor& t) { return t.dtype() == DType::F32 ? t : t.cast(DType::F32); }

void require_float(const Tensor& x, const Node& node) {
  KILN_CHECK(dtype_is_float(x.dtype()), BadInput, "{}: input must be a float tensor, not {}", node.label(),
             dtype_name(x.dtype()));
}

// A parameter (scale, bias) as n floats laid out like `shape`, broadcasting it when needed.
std::vector<float> param_floats(const Tensor& t, const Shape& shape, const Node& node, const char* what) {
  Tensor f = as_f32(t);
  const float* p = f.data<float>();
  int64_t n = shape_numel(shape);
  if (f.numel() == n) return std::vector<float>(p, p + n);
  Shape b = broadcast_shapes({f.shape(), shape}, node);
  KILN_CHECK(b == shape, BadInput, "{}: {} of shape {} does not fit the normalised shape {}", node.label(), what,
             shape_str(t.shape()), shape_str(shape));
  auto offs = broadcast_offsets(f.shape(), shape);
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = p[offs[i]];
  return out;
}

// The same without a copy when the parameter already is n float32 values (LayerNorm's usual
// scale and bias): `data` points into the tensor, else into `copy`.
struct FloatParam {
  const float* data = nullptr;
  std::vector<float> copy;
};
FloatParam float_param(const Tensor& t, const Shape& shape, const Node& node, const char* what) {
  FloatParam p;
  if (t.dtype() == DType::F32 && t.numel() == shape_numel(shape)) {
    p.data = t.data<float>();
    return p;
  }
  p.copy = param_floats(t, shape, node, what);
  p.data = p.copy.data();
  return p;
}

// Output y = x converted back to `dtype` (float32 tensors pass through).
void set_float_output(KernelContext& ctx, size_t i, const Tensor& y, DType dtype) {
  ctx.set_output(i, dtype == DType::F32 ? y : y.cast(dtype));
}

// ---- LayerNormalization ----------------------------------------------------------------------

// x as the layer norms see it: `rows` rows of the n values from `axis` on (checked: a float tensor of
// rank 1 or more), the shape of one row, and the shape of a per-row statistic (x's leading dims, then
// 1 for each normalized axis: the optional mean / inverse deviation outputs).
struct NormRows {
  int axis = 0;
  int64_t rows = 1, n = 1;
  Shape row_shape, stat_shape;
};
NormRows norm_rows(const Tensor& x, int64_t axis_attr, const Node& node) {
  require_float(x, node);
  const int r = x.rank();
  KILN_CHECK(r >= 1, BadInput, "{}: input must have rank 1 or more", node.label());
  NormRows nr;
  nr.axis = normalize_axis(axis_attr, r, node);
  for (int d = 0; d < nr.axis; ++d) nr.rows *= x.dim(d);
  for (int d = nr.axis; d < r; ++d) nr.n *= x.dim(d);
  nr.row_shape.assign(x.shape().begin() + nr.axis, x.shape().end());
  nr.stat_shape.assign(x.shape().begin(), x.shape().begin() + nr.axis);
  nr.stat_shape.resize((size_t)r, 1);
  return nr;
}

// What the layer norms take from their node: the first normalized axis and epsilon.
class NormKernelBase : public OpKernel {
 public:
  explicit NormKernelBase(const KernelInfo& info)
      : axis_(info.node.attr_int("axis", -1)), eps_(info.node.attr_float("epsilon", 1e-5f)) {}

 protected:
  int64_t axis_;
  float eps_;
};

class LayerNormKernel : public NormKernelBase {
 public:
  using NormKernelBase::NormKernelBase;

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    const auto [axis, rows, n, norm_shape, stat_shape] = norm_rows(x0, axis_, node);
    const FloatParam scale = float_param(ctx.input(1), norm_shape, node, "Scale");
    FloatParam bias;
    if (const Tensor* b = ctx.input_or_null(2)) bias = float_param(*b, norm_shape, node, "B");

    Tensor x = as_f32(x0);
    Tensor y(DType::F32, x.shape());
    bool want_stats = ctx.output_wanted(1) || ctx.output_wanted(2);
    Tensor mean_t, inv_t;
    if (want_stats) {
      mean_t = Tensor(DType::F32, stat_shape);
      inv_t = Tensor(DType::F32, stat_shape);
    }
    float* pm = want_stats ? mean_t.data<float>() : nullptr;
    float* pi = want_stats ? inv_t.data<float>() : nullptr;
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const float* ps = scale.data;
    const float* pb = bias.data;
    const float eps = eps_;
    const Isa isa = active_isa();
    // kiln:DynamicQuantizeLinear reads the output's range from here (passes/quantize_range_fusion.cc).
    const int range_out = ValueRange::output_index(node);
    const bool want_range = range_out >= 0 && ctx.output_wanted((size_t)range_out) && n > 0;
    ValueRange range;
    const QuantKernels& qk = quant_kernels();
    parallel_for(rows, n * 4, [&](long b, long e) {
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      // Four rows at a time (vec::layer_norm_rows: the rows' sums side by side), then their range while
      // they are in L1.
      for (long r0 = b; r0 < e; r0 += 4) {
        const long r1 = std::min<long>(e, r0 + 4);
        vec::layer_norm_rows(px + r0 * n, py + r0 * n, r1 - r0, n, ps, pb, eps, pm ? pm + r0 : nullptr,
                             pi ? pi + r0 : nullptr, isa);
        for (long row = r0; row < r1 && want_range; ++row) {
          float l, h;
          qk.min_max(py + row * n, n, &l, &h);
          lo = std::min(lo, l);
          hi = std::max(hi, h);
        }
      }
      if (want_range) range.merge(lo, hi);
    });
    range.write(ctx, range_out);
    set_float_output(ctx, 0, y, x0.dtype());
    if (want_stats) {
      if (ctx.num_outputs() > 1) ctx.set_output(1, mean_t);
      if (ctx.num_outputs() > 2) ctx.set_output(2, inv_t);
    }
  }

};

// ---- SimplifiedLayerNormalization (RMS norm) ------------------------------------------------------
// ONNX Runtime's contrib op, which kiln's passes make of T5's decomposed LayerNorm
// (passes/layer_norm_fusion.cc): y = x / sqrt(mean(x^2) + eps) * scale over the axes from `axis`
// on; optional output 1: 1 / sqrt(mean(x^2) + eps) per row.

class RmsNormKernel : public NormKernelBase {
 public:
  using NormKernelBase::NormKernelBase;

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    const auto [axis, rows, n, norm_shape, stat_shape] = norm_rows(x0, axis_, node);
    const FloatParam scale = float_param(ctx.input(1), norm_shape, node, "scale");
    const Tensor x = as_f32(x0);
    Tensor y(DType::F32, x.shape());
    Tensor inv_t;
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) inv_t = Tensor(DType::F32, stat_shape);
    const float* px = x.data<float>();
    float* py = y.data<float>();
    float* pi = inv_t.defined() ? inv_t.data<float>() : nullptr;
    const float eps = eps_;
    const Isa isa = active_isa();
    if (n > 0)
      parallel_for(rows, n * 4, [&](long b, long e) {
        for (long row = b; row < e; ++row) {
          const float inv = vec::rms_norm(px + row * n, py + row * n, n, scale.data, eps, isa);
          if (pi) pi[row] = inv;
        }
      });
    set_float_output(ctx, 0, y, x0.dtype());
    if (inv_t.defined()) ctx.set_output(1, inv_t);
  }
};

// ---- BatchNormalization ----------------------------------------------------------------------

class BatchNormKernel : public OpKernel {
 public:
  explicit BatchNormKernel(const KernelInfo& info) {
    eps_ = info.node.attr_float("epsilon", 1e-5f);
    momentum_ = info.node.attr_float("momentum", 0.9f);
    training_ = info.opset >= 14 && info.node.attr_int("training_mode", 0) != 0;
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    require_float(x0, node);
    KILN_CHECK(x0.rank() >= 2, BadInput, "{}: input must be [N, C, ...], got {}", node.label(),
               shape_str(x0.shape()));
    const int64_t N = x0.dim(0), C = x0.dim(1);
    int64_t S = 1;
    for (int d = 2; d < x0.rank(); ++d) S *= x0.dim(d);
    Shape cs{C};
    auto scale = param_floats(ctx.input(1), cs, node, "scale");
    auto bias = param_floats(ctx.input(2), cs, node, "B");
    auto mean = param_floats(ctx.input(3), cs, node, "input_mean");
    auto var = param_floats(ctx.input(4), cs, node, "input_var");
    Tensor x = as_f32(x0);
    const float* px = x.data<float>();
    std::vector<float> use_mean = mean, use_var = var;
    if (training_) {
      for (int64_t c = 0; c < C; ++c) {
        double s = 0, ss = 0;
        for (int64_t nn = 0; nn < N; ++nn)
          for (int64_t i = 0; i < S; ++i) {
            double v = px[(nn * C + c) * S + i];
            s += v;
            ss += v * v;
          }
        double cnt = (double)(N * S);
        double m = s / cnt;
        use_mean[c] = (float)m;
        use_var[c] = (float)(ss / cnt - m * m);
      }
    }
    Tensor y(DType::F32, x.shape());
    float* py = y.data<float>();
    parallel_for(N * C, S, [&](long b, long e) {
      for (long nc = b; nc < e; ++nc) {
        int64_t c = nc % C;
        float a = scale[c] / std::sqrt(use_var[c] + eps_);
        float sh = bias[c] - use_mean[c] * a;
        const float* xr = px + nc * S;
        float* yr = py + nc * S;
        for (int64_t i = 0; i < S; ++i) yr[i] = xr[i] * a + sh;
      }
    });
    set_float_output(ctx, 0, y, x0.dtype());
    if (training_) {
      Tensor rm(DType::F32, cs), rv(DType::F32, cs);
      for (int64_t c = 0; c < C; ++c) {
        rm.data<float>()[c] = mean[c] * momentum_ + use_mean[c] * (1 - momentum_);
        rv.data<float>()[c] = var[c] * momentum_ + use_var[c] * (1 - momentum_);
      }
      if (ctx.num_outputs() > 1) set_float_output(ctx, 1, rm, ctx.input(3).dtype());
      if (ctx.num_outputs() > 2) set_float_output(ctx, 2, rv, ctx.input(4).dtype());
    }
  }

 private:
  float eps_, momentum_;
  bool training_;
};

// ---- Instance / Group normalization: mean and variance per (n, group) ---------------------------

// Normalises x [N, C, S...] over groups of C/G channels (G == C: instance norm). Scale and bias are
// per channel (n == C) or per group (n == G).
Tensor group_norm(const Tensor& x, int64_t G, const std::vector<float>& scale, const std::vector<float>& bias,
                  float eps) {
  const int64_t N = x.dim(0), C = x.dim(1);
  int64_t S = 1;
  for (int d = 2; d < x.rank(); ++d) S *= x.dim(d);
  const int64_t cpg = C / G, len = cpg * S;
  const bool per_channel = (int64_t)scale.size() == C;
  const float* px = x.data<float>();
  Tensor y(DType::F32, x.shape());
  float* py = y.data<float>();
  parallel_for(N * G, len * 4, [&](long b, long e) {
    for (long ng = b; ng < e; ++ng) {
      const float* xr = px + ng * len;
      float* yr = py + ng * len;
      double s = 0;
      for (int64_t i = 0; i < len; ++i) s += xr[i];
      double m = s / (double)len, v = 0;
      for (int64_t i = 0; i < len; ++i) v += (xr[i] - m) * (xr[i] - m);
      float inv = (float)(1.0 / std::sqrt(v / (double)len + eps));
      int64_t g = ng % G;
      for (int64_t c = 0; c < cpg; ++c) {
        int64_t k = per_channel ? g * cpg + c : g;
        float a = scale[k] * inv, sh = bias[k] - (float)m * a;
        for (int64_t i = 0; i < S; ++i) yr[c * S + i] = xr[c * S + i] * a + sh;
      }
    }
  });
  return y;
}

class InstanceNormKernel : public OpKernel {
 public:
  explicit InstanceNormKernel(const KernelInfo& info) : eps_(info.node.attr_float("epsilon", 1e-5f)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    require_float(x0, node);
    KILN_CHECK(x0.rank() >= 2, BadInput, "{}: input must be [N, C, ...], got {}", node.label(),
               shape_str(x0.shape()));
    Shape cs{x0.dim(1)};
    auto scale = param_floats(ctx.input(1), cs, node, "scale");
    auto bias = param_floats(ctx.input(2), cs, node, "B");
    set_float_output(ctx, 0, group_norm(as_f32(x0), x0.dim(1), scale, bias, eps_), x0.dtype());
  }

 private:
  float eps_;
};

class GroupNormKernel : public OpKernel {
 public:
  explicit GroupNormKernel(const KernelInfo& info) {
    eps_ = info.node.attr_float("epsilon", 1e-5f);
    groups_ = info.node.attr_int("num_groups", 0);
    KILN_CHECK(groups_ > 0, BadModel, "{}: num_groups must be positive", info.node.label());
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    require_float(x0, node);
    KILN_CHECK(x0.rank() >= 2 && x0.dim(1) % groups_ == 0, BadInput,
               "{}: input {} must be [N, C, ...] with C divisible by num_groups {}", node.label(),
               shape_str(x0.shape()), groups_);
    const Tensor& s = ctx.input(1);
    Shape ps{s.numel() == x0.dim(1) ? x0.dim(1) : groups_};
    auto scale = param_floats(s, ps, node, "scale");
    auto bias = param_floats(ctx.input(2), ps, node, "bias");
    set_float_output(ctx, 0, group_norm(as_f32(x0), groups_, scale, bias, eps_), x0.dtype());
  }

 private:
  float eps_;
  int64_t groups_;
};

// ---- LpNormalization, MeanVarianceNormalization ---------------------------------------------

class LpNormKernel : public OpKernel {
 public:
  explicit LpNormKernel(const KernelInfo& info) {
    axis_ = info.node.attr_int("axis", -1);
    p_ = info.node.attr_int("p", 2);
    KILN_CHECK(p_ == 1 || p_ == 2, BadModel, "{}: p must be 1 or 2, not {}", info.node.label(), p_);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x0 = ctx.input(0);
    require_float(x0, ctx.node());
    Tensor x = as_f32(x0);
    int axis = normalize_axis(axis_, x.rank(), ctx.node());
    int64_t outer = 1, n = x.rank() ? x.dim(axis) : 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    Tensor y(DType::F32, x.shape());
    const float* px = x.data<float>();
    float* py = y.data<float>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const float* xr = px + o * n * inner + i;
        float* yr = py + o * n * inner + i;
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += p_ == 1 ? std::fabs(xr[k * inner]) : (double)xr[k * inner] * xr[k * inner];
        double norm = p_ == 1 ? s : std::sqrt(s);
        for (int64_t k = 0; k < n; ++k) yr[k * inner] = norm == 0 ? 0.0f : (float)(xr[k * inner] / norm);
      }
    set_float_output(ctx, 0, y, x0.dtype());
  }

 private:
  int64_t axis_, p_;
};

class MvnKernel : public OpKernel {
 public:
  explicit MvnKernel(const KernelInfo& info) : axes_(info.node.attr_ints("axes", {0, 2, 3})) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    require_float(x0, node);
    Tensor x = as_f32(x0);
    const int r = x.rank();
    Shape kept = x.shape();
    for (int64_t a : axes_) kept[normalize_axis(a, r, node)] = 1;
    int64_t out_n = shape_numel(kept), cnt = x.numel() / std::max<int64_t>(out_n, 1);
    auto offs = broadcast_offsets(kept, x.shape());
    std::vector<double> s(out_n, 0), ss(out_n, 0);
    const float* px = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      s[offs[i]] += px[i];
      ss[offs[i]] += (double)px[i] * px[i];
    }
    std::vector<float> mean(out_n), den(out_n);
    for (int64_t o = 0; o < out_n; ++o) {
      double m = s[o] / cnt, var = ss[o] / cnt - m * m;
      mean[o] = (float)m;
      den[o] = (float)(std::sqrt(std::max(var, 0.0)) + 1e-9);
    }
    Tensor y(DType::F32, x.shape());
    float* py = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = (px[i] - mean[offs[i]]) / den[offs[i]];
    set_float_output(ctx, 0, y, x0.dtype());
  }

 private:
  std::vector<int64_t> axes_;
};

// ---- LRN: normalisation across neighbouring channels ----------------------------------------

class LrnKernel : public OpKernel {
 public:
  explicit LrnKernel(const KernelInfo& info) {
    const Node& n = info.node;
    size_ = n.attr_int("size", 0);
    KILN_CHECK(size_ > 0, BadModel, "{}: size must be positive", n.label());
    alpha_ = n.attr_float("alpha", 1e-4f);
    beta_ = n.attr_float("beta", 0.75f);
    bias_ = n.attr_float("bias", 1.0f);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x0 = ctx.input(0);
    KILN_CHECK(x0.rank() >= 2 && dtype_is_float(x0.dtype()), BadInput, "{}: input must be a float [N, C, ...]",
               ctx.node().label());
    Tensor x = x0.cast(DType::F64);
    const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;
    const double* px = x.data<double>();
    Tensor y(DType::F64, x.shape());
    double* py = y.data<double>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) {
          double sq = 0;
          for (int64_t j = std::max<int64_t>(0, c - lo); j <= std::min(C - 1, c + hi); ++j) {
            double v = px[(n * C + j) * S + s];
            sq += v * v;
          }
          int64_t i = (n * C + c) * S + s;
          py[i] = px[i] / std::pow(bias_ + alpha_ / size_ * sq, beta_);
        }
    ctx.set_output(0, y.cast(x0.dtype()));
  }

 private:
  int64_t size_;
  double alpha_, beta_, bias_;
};

template <typename K>
KernelFactory factory() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_norm_kernels) {
  // ONNX added LayerNormalization at opset 17, but ONNX Runtime's optimizer writes it into graphs
  // of any opset (its saved optimized models), so kiln accepts it from opset 1.
  r.add({DeviceType::Cpu, "", "LayerNormalization", 1, kMaxOpset}, factory<LayerNormKernel>());
  r.add({DeviceType::Cpu, "com.microsoft", "LayerNormalization", 1, kMaxOpset}, factory<LayerNormKernel>());
  // ONNX Runtime registers its SimplifiedLayerNormalization in the default domain; kiln's fusion
  // writes it in com.microsoft.
  r.add({DeviceType::Cpu, "", "SimplifiedLayerNormalization", 1, kMaxOpset}, factory<RmsNormKernel>());
  r.add({DeviceType::Cpu, "com.microsoft", "SimplifiedLayerNormalization", 1, kMaxOpset}, factory<RmsNormKernel>());
  r.add({DeviceType::Cpu, "", "BatchNormalization", 1, kMaxOpset}, factory<BatchNormKernel>());
  r.add({DeviceType::Cpu, "", "InstanceNormalization", 1, kMaxOpset}, factory<InstanceNormKernel>());
  r.add({DeviceType::Cpu, "", "GroupNormalization", 18, kMaxOpset}, factory<GroupNormKernel>());
  r.add({DeviceType::Cpu, "", "LpNormalization", 1, kMaxOpset}, factory<LpNormKernel>());
  r.add({DeviceType::Cpu, "", "MeanVarianceNormalization", 1, kMaxOpset}, factory<MvnKernel>());
  r.add({DeviceType::Cpu, "", "LRN", 1, kMaxOpset}, factory<LrnKernel>());
}

}  // namespace kiln::cpu
