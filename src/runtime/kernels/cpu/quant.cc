// Quantization ops: DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear (per tensor, per axis,
// blocked), and the 8-bit matrix products MatMulInteger, QLinearMatMul and ONNX Runtime's
// com.microsoft MatMulIntegerToFloat and DynamicQuantizeMatMul. Rounding is half to even throughout,
// as the ONNX spec says.
#include <algorithm>
#include <cmath>
#include <memory>

#include "core/threads.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/kernels/cpu/matmul_shape.h"
#include "runtime/kernels/cpu/quant_gemm.h"
#include "runtime/kernels/cpu/quant_simd.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/kernels/cpu/value_range.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

// ---- helpers ----

bool is_8bit(DType t) { return t == DType::U8 || t == DType::I8; }

// Integer values of an optional zero-point tensor (empty when absent).
std::vector<int32_t> int_values(const Tensor* t) {
  std::vector<int32_t> v;
  if (!t) return v;
  v.resize((size_t)t->numel());
  for (int64_t i = 0; i < t->numel(); ++i) v[i] = (int32_t)t->item_i64(i);
  return v;
}

std::vector<float> float_values(const Tensor& t) {
  std::vector<float> v((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = (float)t.item_f64(i);
  return v;
}
using cpu::float_values;  // the form into a kept list (common.h)

// The same into lists the caller keeps across runs (so that their storage is reused). The usual
// types are copied without a per-element type dispatch: a product's bias (768-3072 floats) is read
// every run, and element by element that was ~0.6 % of DistilBERT-base int8's run.
void int_values(const Tensor* t, std::vector<int32_t>& v) {
  v.resize(t ? (size_t)t->numel() : 0);
  if (v.empty()) return;
  if (t->dtype() == DType::U8) return (void)std::copy_n(t->data<uint8_t>(), v.size(), v.begin());
  if (t->dtype() == DType::I8) return (void)std::copy_n(t->data<int8_t>(), v.size(), v.begin());
  for (size_t i = 0; i < v.size(); ++i) v[i] = (int32_t)t->item_i64((int64_t)i);
}

// The quantized range of an output type.
void qrange(DType t, const Node& node, float* lo, float* hi) {
  switch (t) {
    case DType::U8: *lo = 0; *hi = 255; return;
    case DType::I8: *lo = -128; *hi = 127; return;
    case DType::U16: *lo = 0; *hi = 65535; return;
    case DType::I16: *lo = -32768; *hi = 32767; return;
    case DType::I32: *lo = -2147483648.f; *hi = 2147483520.f; return;
    default: break;
  }
  throw Unsupported(fmt::format("{}: quantizing to {} is not supported (uint8, int8, uint16, int16 are)",
                                node.label(), dtype_name(t)));
}

// clamp(round_half_even(v) + zp, lo, hi) with NaN going to hi (as the vector kernels do).
inline float quantize_value(float v, float zp, float lo, float hi) {
  float q = std::nearbyint(v) + zp;
  q = q < hi ? q : hi;
  return q > lo ? q : lo;
}

// (scale, zero point) of the range [mn, mx] of the values, widened to take 0.
void params_from_range(float mn, float mx, float* scale, uint8_t* zero_point) {
  mn = std::min(mn, 0.f);
  mx = std::max(mx, 0.f);
  // ONNX Runtime takes scale 1 when the range is empty (every value 0).
  float s = mx == mn ? 1.f : (mx - mn) / 255.f;
  *scale = s;
  *zero_point = (uint8_t)quantize_value(-mn / s, 0.f, 0.f, 255.f);
}

// Per-tensor dynamic range of x: the (scale, zero point) DynamicQuantizeLinear computes.
void dynamic_params(const float* x, int64_t n, float* scale, uint8_t* zero_point) {
  const QuantKernels& qk = quant_kernels();
  float mn = 0.f, mx = 0.f;
  if (n > 0) {
    // At most 64 chunks (min and max do not depend on how x is split), on the stack.
    int chunks = (int)std::min<int64_t>({thread_count(), std::max<int64_t>(1, n / 65536), 64});
    float lo[64] = {}, hi[64] = {};
    parallel_for(chunks, 1 << 20, [&](long c0, long c1) {
      for (long c = c0; c < c1; ++c) {
        int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
        qk.min_max(x + b, e - b, &lo[c], &hi[c]);
      }
    });
    mn = lo[0];
    mx = hi[0];
    for (int c = 1; c < chunks; ++c) {
      mn = std::min(mn, lo[c]);
      mx = std::max(mx, hi[c]);
    }
  }
  params_from_range(mn, mx, scale, zero_point);
}

void quantize_u8_parallel(const float* x, int64_t n, float scale, int32_t zp, uint8_t* y) {
  const QuantKernels& qk = quant_kernels();
  parallel_for((n + 4095) / 4096, 4096 * 4, [&](long b0, long b1) {
    int64_t b = b0 * 4096, e = std::min<int64_t>(n, b1 * 4096);
    qk.quantize_u8(x + b, e - b, scale, zp, y + b);
  });
}

// ---- DynamicQuantizeLinear ----

// The quantized values of x into y: row-major, or in row tiles (row_tiles.h) when the node says so
// (attribute row_tiles, set by passes/quant_row_tiles.cc for products that read them that way).
void quantize_output(KernelContext& ctx, const Tensor& x, float scale, uint8_t zp, uint8_t* y) {
  if (ctx.node().attr_int("row_tiles", 0) == 0 || x.numel() == 0) {
    quantize_u8_parallel(x.data<float>(), x.numel(), scale, zp, y);
    return;
  }
  const int64_t K = x.rank() > 0 ? x.dim(-1) : 1;
  KILN_CHECK(row_tiles_fit(K), BadInput, "{}: the last dimension of the input must be a multiple of 4 here, got {}",
             ctx.node().label(), K);
  quantize_u8_row_tiles(x.data<float>(), x.numel() / K, K, scale, zp, y);
}

void dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.dtype() == DType::F32, Unsupported, "{}: DynamicQuantizeLinear needs float32 input, got {}",
             ctx.node().label(), dtype_name(x.dtype()));
  float scale;
  uint8_t zp;
  dynamic_params(x.data<float>(), x.numel(), &scale, &zp);
  Tensor& y = ctx.allocate_output(0, DType::U8, x.shape());
  quantize_output(ctx, x, scale, zp, y.data<uint8_t>());
  if (ctx.num_outputs() > 1) ctx.allocate_output(1, DType::F32, {}).data<float>()[0] = scale;
  if (ctx.num_outputs() > 2) ctx.allocate_output(2, DType::U8, {}).data<uint8_t>()[0] = zp;
}

// kiln:DynamicQuantizeLinear(x, range): the same, with [min, max] of x written by x's producer
// (passes/quantize_range_fusion.cc), so x is read once.
void dynamic_quantize_linear_with_range(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& range = ctx.input(1);
  KILN_CHECK(x.dtype() == DType::F32, Unsupported, "{}: DynamicQuantizeLinear needs float32 input, got {}",
             ctx.node().label(), dtype_name(x.dtype()));
  KILN_CHECK(range.dtype() == DType::F32 && range.numel() == 2, InternalError, "{}: the range must be 2 floats",
             ctx.node().label());
  float scale;
  uint8_t zp;
  // An empty x: the producer merged nothing (+inf, -inf), which widens to [0, 0] as an empty x does.
  params_from_range(range.data<float>()[0], range.data<float>()[1], &scale, &zp);
  Tensor& y = ctx.allocate_output(0, DType::U8, x.shape());
  quantize_output(ctx, x, scale, zp, y.data<uint8_t>());
  if (ctx.num_outputs() > 1) ctx.allocate_output(1, DType::F32, {}).data<float>()[0] = scale;
  if (ctx.num_outputs() > 2) ctx.allocate_output(2, DType::U8, {}).data<uint8_t>()[0] = zp;
}

// ---- QuantizeLinear / DequantizeLinear ----

// Which scale (and zero point) each element of x uses: per tensor, per axis or per block along axis.
struct ScaleLayout {
  int64_t outer = 1, dim = 1, inner = 1;  // x viewed as [outer, dim, inner] around the axis
  int64_t block = 0;                      // 0: per axis (or per tensor when count is 1)
  int64_t count = 1;                      // number of scales

  int64_t index(int64_t o, int64_t d, int64_t i) const {
    if (count == 1) return 0;
    if (block == 0) return d;
    int64_t blocks = (dim + block - 1) / block;
    return (o * blocks + d / block) * inner + i;
  }
};

ScaleLayout scale_layout(const Tensor& x, const Tensor& scale, const Node& node) {
  ScaleLayout L;
  L.count = scale.numel();
  if (L.count == 1 && scale.rank() <= 1) {
    L.dim = x.numel();
    return L;
  }
  int axis = normalize_axis(node.attr_int("axis", 1), x.rank(), node);
  for (int i = 0; i < axis; ++i) L.outer *= x.dim(i);
  L.dim = x.dim(axis);
  for (int i = axis + 1; i < x.rank(); ++i) L.inner *= x.dim(i);
  L.block = node.attr_int("block_size", 0);
  if (L.block > 0) {
    Shape want = x.shape();
    want[axis] = (x.dim(axis) + L.block - 1) / L.block;
    KILN_CHECK(scale.shape() == want, BadInput, "{}: with block_size {} the scale must have shape {}, not {}",
               node.label(), L.block, shape_str(want), shape_str(scale.shape()));
  } else {
    KILN_CHECK(scale.rank() == 1 && scale.dim(0) == L.dim, BadInput,
               "{}: a per-axis scale must be 1-D with {} values (dimension {} of the input), not {}", node.label(),
               L.dim, axis, shape_str(scale.shape()));
  }
  return L;
}

void quantize_linear(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.input_or_null(2);
  DType out_type = zp ? zp->dtype() : (DType)node.attr_int("output_dtype", (int64_t)DType::U8);
  if (out_type == DType::Undefined) out_type = DType::U8;
  float lo, hi;
  qrange(out_type, node, &lo, &hi);
  KILN_CHECK(dtype_is_float(x.dtype()) || x.dtype() == DType::I32, Unsupported,
             "{}: QuantizeLinear of {} is not supported", node.label(), dtype_name(x.dtype()));
  ScaleLayout L = scale_layout(x, scale, node);
  KILN_CHECK(!zp || zp->numel() == L.count, BadInput, "{}: zero point has {} values but the scale {}", node.label(),
             zp ? zp->numel() : 0, L.count);
  Tensor& y = ctx.allocate_output(0, out_type, x.shape());
  std::vector<float> s = float_values(scale);
  std::vector<int32_t> z = zp ? int_values(zp) : std::vector<int32_t>(s.size(), 0);
  if (x.dtype() == DType::F32 && out_type == DType::U8 && L.count == 1) {
    quantize_u8_parallel(x.data<float>(), x.numel(), s[0], z[0], y.data<uint8_t>());
    return;
  }
  Tensor xf = x.dtype() == DType::F32 ? x : x.cast(DType::F32);
  const float* px = xf.data<float>();
  dispatch_numeric(out_type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      T* py = y.data<T>();
      int64_t e = 0;
      for (int64_t o = 0; o < L.outer; ++o)
        for (int64_t d = 0; d < L.dim; ++d)
          for (int64_t i = 0; i < L.inner; ++i, ++e) {
            int64_t k = L.index(o, d, i);
            py[e] = (T)quantize_value(px[e] / s[k], (float)z[k], lo, hi);
          }
    }
  });
}

void dequantize_linear(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.input_or_null(2);
  KILN_CHECK(dtype_is_integer(x.dtype()), Unsupported, "{}: DequantizeLinear of {} is not supported", node.label(),
             dtype_name(x.dtype()));
  KILN_CHECK(!zp || zp->dtype() == x.dtype(), BadModel, "{}: zero point type {} differs from the input's {}",
             node.label(), zp ? dtype_name(zp->dtype()) : "", dtype_name(x.dtype()));
  ScaleLayout L = scale_layout(x, scale, node);
  KILN_CHECK(!zp || zp->numel() == L.count, BadInput, "{}: zero point has {} values but the scale {}", node.label(),
             zp ? zp->numel() : 0, L.count);
  // This thread's lists, kept across runs; used through references (a thread_local named in a
  // lambda on a worker thread would be that thread's own).
  thread_local std::vector<float> tls_s;
  thread_local std::vector<int32_t> tls_z;
  std::vector<float>& s = tls_s;
  std::vector<int32_t>& z = tls_z;
  float_values(scale, s);
  if (zp) int_values(zp, z);
  else z.assign(s.size(), 0);
  DType out_type = dtype_is_float(scale.dtype()) ? scale.dtype() : DType::F32;
  Tensor yf(DType::F32, x.shape());
  float* py = yf.data<float>();
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      const T* px = x.data<T>();
      int64_t e = 0;
      if (L.count == 1) {
        float s0 = s[0];
        int64_t z0 = z[0];
        for (int64_t i = 0; i < x.numel(); ++i) py[i] = (float)((int64_t)px[i] - z0) * s0;
        return;
      }
      for (int64_t o = 0; o < L.outer; ++o)
        for (int64_t d = 0; d < L.dim; ++d)
          for (int64_t i = 0; i < L.inner; ++i, ++e) {
            int64_t k = L.index(o, d, i);
            py[e] = (float)((int64_t)px[e] - z[k]) * s[k];
          }
    }
  });
  ctx.set_output(0, out_type == DType::F32 ? yf : yf.cast(out_type));
}

// ---- 8-bit matrix products ----

// Shared by the 8-bit products: B (input b_index) packed once when it is a constant 8-bit matrix,
// and the numpy-matmul batching.
class QuantMatMulBase : public OpKernel {
 protected:
  QuantMatMulBase(const KernelInfo& info, size_t b_index) {
    const Tensor* b = info.constant(b_index);
    if (b && is_8bit(b->dtype()) && b->rank() >= 2 && b->numel() == b->dim(-1) * b->dim(-2) && b->numel() > 0) {
      const_b_shape_ = b->shape();
      gemm_.set_constant_b(*b, b->dim(-2), b->dim(-1));
    }
  }

  // Calls run(rows, a_ptr, b_ptr_or_null, first_row, out_offset) for each product, rows of A's batch
  // folded into one product when there is one B matrix.
  template <typename Run>
  void batched(const MatMulDims& d, const Tensor& a, const Tensor& b, Run&& run) {
    const uint8_t* pa = static_cast<const uint8_t*>(a.raw());
    const uint8_t* pb = static_cast<const uint8_t*>(b.raw());
    int64_t nb_b = shape_numel(d.b_batch);
    if (nb_b == 1) {
      bool use_const = gemm_.has_constant_b() && b.shape() == const_b_shape_;
      run(shape_numel(d.a_batch) * d.M, pa, use_const ? nullptr : pb, 0, 0);
      return;
    }
    for_each_batch(d, [&](int64_t o, int64_t ia, int64_t ib) {
      run(d.M, pa + ia * d.M * d.K, pb + ib * d.K * d.N, ia * d.M, o * d.M * d.N);
    });
  }

  // Zero points of A: none, one, or one per row of A (all batches together).
  // za itself when it holds one value or none (no copy), else its rows first.. in `slice`.
  static const std::vector<int32_t>& rows_of(const std::vector<int32_t>& za, int64_t first, int64_t rows,
                                             std::vector<int32_t>& slice) {
    if (za.size() <= 1) return za;
    slice.assign(za.begin() + first, za.begin() + first + rows);
    return slice;
  }

  static void check_zero_points(const Node& node, const std::vector<int32_t>& za, const std::vector<int32_t>& zb,
                                const MatMulDims& d) {
    int64_t rows = shape_numel(d.a_batch) * d.M;
    KILN_CHECK(za.size() <= 1 || (int64_t)za.size() == rows, Unsupported,
               "{}: a zero point with {} values is not supported (one, or one per row of A)", node.label(), za.size());
    KILN_CHECK(zb.size() <= 1 || (int64_t)zb.size() == d.N, Unsupported,
               "{}: b zero point with {} values is not supported (one, or one per column of B)", node.label(),
               zb.size());
  }

  Int8Gemm gemm_;
  Shape const_b_shape_;
};

void check_8bit(const Node& node, const Tensor& t, const char* what) {
  KILN_CHECK(is_8bit(t.dtype()), Unsupported, "{}: {} must be uint8 or int8, got {}", node.label(), what,
             dtype_name(t.dtype()));
}

class MatMulIntegerKernel : public QuantMatMulBase {
 public:
  explicit MatMulIntegerKernel(const KernelInfo& info) : QuantMatMulBase(info, 1) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_8bit(node, a, "A");
    check_8bit(node, b, "B");
    auto za = int_values(ctx.input_or_null(2)), zb = int_values(ctx.input_or_null(3));
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    check_zero_points(node, za, zb, d);
    Tensor& y = ctx.allocate_output(0, DType::I32, d.out);
    if (y.numel() == 0) return;
    int32_t* py = y.data<int32_t>();
    bool as = a.dtype() == DType::I8, bs = b.dtype() == DType::I8;
    batched(d, a, b, [&](int64_t rows, const void* pa, const void* pb, int64_t first, int64_t off) {
      std::vector<int32_t> slice;
      gemm_.run(rows, d.K, d.N, pa, as, rows_of(za, first, rows, slice), pb, bs, zb, py + off);
    });
  }
};

// com.microsoft MatMulIntegerToFloat: A, B, a_scale, b_scale, a_zero_point?, b_zero_point?, bias?
class MatMulIntegerToFloatKernel : public QuantMatMulBase {
 public:
  explicit MatMulIntegerToFloatKernel(const KernelInfo& info) : QuantMatMulBase(info, 1) {
    // kiln:MatMulIntegerToFloat with activation "Gelu": the session's fusion of a following BiasGelu.
    std::string act = info.node.attr_string("activation", "");
    KILN_CHECK(act.empty() || act == "Gelu", Unsupported, "{}: activation '{}' is not supported", info.node.label(),
               act);
    gelu_ = act == "Gelu";
    row_tiles_ = info.node.attr_int("row_tiles", 0) != 0;
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_8bit(node, a, "A");
    check_8bit(node, b, "B");
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    // This thread's lists, kept across runs: a steady-state run allocates nothing here.
    // (through references, as in dequantize_linear).
    thread_local std::vector<int32_t> tls_za, tls_zb;
    thread_local std::vector<float> tls_as, tls_bsc, tls_bias;
    std::vector<int32_t>& za = tls_za;
    std::vector<int32_t>& zb = tls_zb;
    std::vector<float>& as = tls_as;
    std::vector<float>& bsc = tls_bsc;
    std::vector<float>& bias = tls_bias;
    int_values(ctx.input_or_null(4), za);
    int_values(ctx.input_or_null(5), zb);
    check_zero_points(node, za, zb, d);
    float_values(ctx.input(2), as);
    float_values(ctx.input(3), bsc);
    KILN_CHECK(as.size() == 1, Unsupported, "{}: a_scale must be a single value", node.label());
    KILN_CHECK(bsc.size() == 1 || (int64_t)bsc.size() == d.N, Unsupported,
               "{}: b_scale must have 1 or {} values, not {}", node.label(), d.N, bsc.size());
    bias.clear();
    if (const Tensor* t = ctx.input_or_null(6)) {
      float_values(*t, bias);
      KILN_CHECK((int64_t)bias.size() == d.N, BadInput, "{}: bias must have {} values", node.label(), d.N);
    }
    // kiln:MatMulIntegerToFloat's input 7: a residual added in the epilogue (passes/quant_residual_fusion.cc).
    const Tensor* residual = ctx.input_or_null(7);
    KILN_CHECK(!residual || residual->dtype() == DType::F32, Unsupported, "{}: the residual must be float32, got {}",
               node.label(), residual ? dtype_name(residual->dtype()) : "");
    if (residual && residual->shape() != d.out) {
      // A residual that broadcasts: the product, then the Add as the Add kernel does it.
      Tensor prod(DType::F32, d.out);
      product_float(ctx, d, a, b, za, zb, as[0], bsc, bias, nullptr, prod.data<float>(), nullptr);
      Shape os = broadcast_shapes({d.out, residual->shape()}, node);
      Tensor& y = ctx.allocate_output(0, DType::F32, os);
      binary_map<float>(prod.data<float>(), d.out, residual->data<float>(), residual->shape(), y.data<float>(), os,
                        [](float u, float v) { return u + v; });
      const int range_out = ValueRange::output_index(node);
      ValueRange range;
      if (range_out >= 0 && ctx.output_wanted((size_t)range_out) && y.numel() > 0) {
        float lo, hi;
        quant_kernels().min_max(y.data<float>(), y.numel(), &lo, &hi);
        range.merge(lo, hi);
      }
      range.write(ctx, range_out);
      return;
    }
    Tensor& y = ctx.allocate_output(0, DType::F32, d.out);
    // kiln:DynamicQuantizeLinear reads the output's range from here (passes/quantize_range_fusion.cc).
    const int range_out = ValueRange::output_index(node);
    ValueRange range;
    if (y.numel() == 0) return range.write(ctx, range_out);
    product_float(ctx, d, a, b, za, zb, as[0], bsc, bias, residual ? residual->data<float>() : nullptr,
                  y.data<float>(), range_out >= 0 && ctx.output_wanted((size_t)range_out) ? &range : nullptr);
    range.write(ctx, range_out);
  }

 private:
  // y (d.out, float) = the dequantized product (+ bias, GELU, + residual of y's shape).
  void product_float(KernelContext& ctx, const MatMulDims& d, const Tensor& a, const Tensor& b,
                     const std::vector<int32_t>& za, const std::vector<int32_t>& zb, float a_scale,
                     const std::vector<float>& bsc, const std::vector<float>& bias, const float* residual, float* py,
                     ValueRange* range) {
    Dequant dq{a_scale, bsc.data(), (int64_t)bsc.size(), bias.empty() ? nullptr : bias.data(), gelu_};
    dq.range = range;
    bool asg = a.dtype() == DType::I8, bsg = b.dtype() == DType::I8;
    if (row_tiles_ && a.numel() > 0) {
      // A comes in row tiles (row_tiles.h) from kiln:DynamicQuantizeLinear. The VNNI product with the
      // constant B reads them as they are; any other case gets the row-major matrix back first.
      const bool direct = shape_numel(d.b_batch) == 1 && gemm_.has_constant_b() && b.shape() == const_b_shape_ &&
                          gemm_.takes_row_tiles(d.K, d.N, asg);
      if (direct) {
        dq.a_row_tiles = true;
      } else {
        KILN_CHECK(row_tiles_fit(d.K), InternalError, "{}: row tiles with K = {}", ctx.node().label(), d.K);
        Tensor rows(a.dtype(), a.shape());
        from_row_tiles(static_cast<const uint8_t*>(a.raw()), a.numel() / d.K, d.K, static_cast<uint8_t*>(rows.raw()));
        return product_rows(d, rows, b, za, zb, asg, bsg, dq, residual, py);
      }
    }
    product_rows(d, a, b, za, zb, asg, bsg, dq, residual, py);
  }

  void product_rows(const MatMulDims& d, const Tensor& a, const Tensor& b, const std::vector<int32_t>& za,
                    const std::vector<int32_t>& zb, bool asg, bool bsg, const Dequant& dq, const float* residual,
                    float* py) {
    batched(d, a, b, [&](int64_t rows, const void* pa, const void* pb, int64_t first, int64_t off) {
      Dequant dqo = dq;
      if (residual) dqo.residual = residual + off;
      std::vector<int32_t> slice;
      gemm_.run_float(rows, d.K, d.N, pa, asg, rows_of(za, first, rows, slice), pb, bsg, zb, dqo, py + off);
    });
  }


 private:
  bool gelu_ = false;
  bool row_tiles_ = false;  // A in row tiles (attribute row_tiles; passes/quant_row_tiles.cc)
};

// com.microsoft DynamicQuantizeMatMul: A (float), B, b_scale, b_zero_point?, bias?
class DynamicQuantizeMatMulKernel : public QuantMatMulBase {
 public:
  explicit DynamicQuantizeMatMulKernel(const KernelInfo& info) : QuantMatMulBase(info, 1) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    KILN_CHECK(a.dtype() == DType::F32, Unsupported, "{}: A must be float32", node.label());
    check_8bit(node, b, "B");
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    auto zb = int_values(ctx.input_or_null(3));
    check_zero_points(node, {}, zb, d);
    std::vector<float> bsc = float_values(ctx.input(2));
    KILN_CHECK(bsc.size() == 1 || (int64_t)bsc.size() == d.N, Unsupported,
               "{}: b_scale must have 1 or {} values, not {}", node.label(), d.N, bsc.size());
    std::vector<float> bias;
    if (const Tensor* t = ctx.input_or_null(4)) {
      bias = float_values(*t);
      KILN_CHECK((int64_t)bias.size() == d.N, BadInput, "{}: bias must have {} values", node.label(), d.N);
    }
    float a_scale;
    uint8_t a_zp;
    dynamic_params(a.data<float>(), a.numel(), &a_scale, &a_zp);
    Tensor aq(DType::U8, a.shape());
    quantize_u8_parallel(a.data<float>(), a.numel(), a_scale, a_zp, aq.data<uint8_t>());
    Tensor& y = ctx.allocate_output(0, DType::F32, d.out);
    if (y.numel() == 0) return;
    Dequant dq{a_scale, bsc.data(), (int64_t)bsc.size(), bias.empty() ? nullptr : bias.data()};
    float* py = y.data<float>();
    std::vector<int32_t> za{a_zp};
    bool bsg = b.dtype() == DType::I8;
    batched(d, aq, b, [&](int64_t rows, const void* pa, const void* pb, int64_t, int64_t off) {
      gemm_.run_float(rows, d.K, d.N, pa, false, za, pb, bsg, zb, dq, py + off);
    });
  }
};

// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
class QLinearMatMulKernel : public QuantMatMulBase {
 public:
  explicit QLinearMatMulKernel(const KernelInfo& info) : QuantMatMulBase(info, 3) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    check_8bit(node, a, "a");
    check_8bit(node, b, "b");
    MatMulDims d = matmul_dims(a.shape(), b.shape(), node);
    auto za = int_values(ctx.input_or_null(2)), zb = int_values(ctx.input_or_null(5));
    check_zero_points(node, za, zb, d);
    std::vector<float> as = float_values(ctx.input(1)), bsc = float_values(ctx.input(4)),
                       ys = float_values(ctx.input(6));
    KILN_CHECK(as.size() == 1 && ys.size() == 1, Unsupported, "{}: a_scale and y_scale must be single values",
               node.label());
    KILN_CHECK(bsc.size() == 1 || (int64_t)bsc.size() == d.N, Unsupported,
               "{}: b_scale must have 1 or {} values, not {}", node.label(), d.N, bsc.size());
    const Tensor* yzp = ctx.input_or_null(7);
    DType out_type = yzp ? yzp->dtype() : a.dtype();
    float lo, hi;
    qrange(out_type, node, &lo, &hi);
    float yz = yzp ? (float)yzp->item_i64(0) : 0.f;
    Tensor& y = ctx.allocate_output(0, out_type, d.out);
    if (y.numel() == 0) return;
    // Real value of each product divided by y_scale, then rounded to the output's grid.
    Dequant dq{as[0] / ys[0], bsc.data(), (int64_t)bsc.size(), nullptr};
    Tensor real(DType::F32, d.out);
    float* pr = real.data<float>();
    bool asg = a.dtype() == DType::I8, bsg = b.dtype() == DType::I8;
    batched(d, a, b, [&](int64_t rows, const void* pa, const void* pb, int64_t first, int64_t off) {
      std::vector<int32_t> slice;
      gemm_.run_float(rows, d.K, d.N, pa, asg, rows_of(za, first, rows, slice), pb, bsg, zb, dq, pr + off);
    });
    if (out_type == DType::U8) {
      uint8_t* py = y.data<uint8_t>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = (uint8_t)quantize_value(pr[i], yz, lo, hi);
    } else {
      int8_t* py = y.data<int8_t>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = (int8_t)quantize_value(pr[i], yz, lo, hi);
    }
  }
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_quant_kernels) {
  r.add_fn("", "DynamicQuantizeLinear", 11, kMaxOpset, dynamic_quantize_linear);
  // With the range of x from its producer (written only by the session's fusion pass, never saved).
  r.add_fn("kiln", "DynamicQuantizeLinear", 1, kMaxOpset, dynamic_quantize_linear_with_range);
  r.add_fn("", "QuantizeLinear", 10, kMaxOpset, quantize_linear);
  r.add_fn("", "DequantizeLinear", 10, kMaxOpset, dequantize_linear);
  r.add({DeviceType::Cpu, "", "MatMulInteger", 10, kMaxOpset}, make<MatMulIntegerKernel>());
  r.add({DeviceType::Cpu, "", "QLinearMatMul", 10, kMaxOpset}, make<QLinearMatMulKernel>());
  r.add({DeviceType::Cpu, "com.microsoft", "MatMulIntegerToFloat", 1, kMaxOpset}, make<MatMulIntegerToFloatKernel>());
  // The same with a GELU epilogue (written only by the session's fusion pass, never saved).
  r.add({DeviceType::Cpu, "kiln", "MatMulIntegerToFloat", 1, kMaxOpset}, make<MatMulIntegerToFloatKernel>());
  r.add({DeviceType::Cpu, "com.microsoft", "DynamicQuantizeMatMul", 1, kMaxOpset},
        make<DynamicQuantizeMatMulKernel>());
}

}  // namespace kiln::cpu
