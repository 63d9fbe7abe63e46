// MatMul / Gemm with a constant weight B -> the integer forms ONNX Runtime runs (see rewrites.h).
#include <cmath>

#include "quantize/rewrites.h"

namespace kiln::quantize {

namespace {

bool decline(Context& ctx, const Node& n, const std::string& why) {
  ctx.stats().left_float[n.op_type]++;
  ctx.stats().reasons[why]++;
  return false;
}

Tensor scaled(const Tensor& w, float k) {
  Tensor t = w.clone();
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] *= k;
  return t;
}

// Weight layout the integer op reads: [K, N], channel axis 1 (output columns).
struct Prepared {
  Tensor w;
  std::string variant;
};

}  // namespace

bool quantize_matmul(Context& ctx, const Scope& scope, const Node& n, std::vector<Node>& out) {
  const Options& o = ctx.options();
  bool gemm = n.op_type == "Gemm";
  if (n.inputs.size() < 2 || n.outputs.empty()) return decline(ctx, n, "malformed node");
  const std::string& a_name = n.inputs[0];
  const std::string& b_name = n.inputs[1];
  Graph* owner = nullptr;
  const Tensor* b = ctx.find_weight(scope, b_name, &owner);
  if (!b) {
    if (ctx.is_constant(scope, b_name)) return decline(ctx, n, "weight is not float32");
    return decline(ctx, n, "no constant weight (activation x activation)");
  }
  if (b->rank() != 2) return decline(ctx, n, "weight is not 2-D");
  if (ctx.find_weight(scope, a_name) || ctx.is_constant(scope, a_name))
    return decline(ctx, n, "first input is a constant");
  int64_t trans_a = gemm ? n.attr_int("transA", 0) : 0, trans_b = gemm ? n.attr_int("transB", 0) : 0;
  float alpha = gemm ? n.attr_float("alpha", 1.0f) : 1.0f, beta = gemm ? n.attr_float("beta", 1.0f) : 1.0f;
  if (trans_a) return decline(ctx, n, "Gemm with transA");
  std::string c_name = gemm && n.inputs.size() > 2 ? n.inputs[2] : "";

  bool qdq = o.format == Format::QDQ;
  bool per_channel = o.per_channel;
  if (per_channel && qdq && ctx.opset() < 13) per_channel = false;  // DequantizeLinear axis: opset 13
  const std::string& y = n.outputs[0];

  if (o.is_static) {
    if (!ctx.has_range(a_name)) return decline(ctx, n, "no calibrated range for its input");
    if (!qdq && !ctx.has_range(y)) return decline(ctx, n, "no calibrated range for its output");
  }

  if (qdq) {
    // Float op kept; its inputs become DequantizeLinear outputs.
    QValue a = o.is_static ? ctx.static_activation(scope, a_name, out) : ctx.dynamic_activation(scope, a_name, out);
    std::string a_dq = ctx.dequantized(a, a_name, out, o.qdq_dedicated_pair);
    int axis = per_channel ? (int)(trans_b ? 0 : 1) : -1;
    QValue w = ctx.weight(*owner, b_name, "", *b, o.weight_type, o.weight_symmetric, axis);
    std::string w_dq;
    if (o.qdq_add_pair_to_weight) {
      // Float weight kept, followed by its own QuantizeLinear -> DequantizeLinear pair.
      std::string wq = ctx.fresh(b_name + "_QuantizeLinear_Output");
      Node q = ctx.make_node("QuantizeLinear", {b_name, w.scale, w.zero_point}, {wq}, b_name + "_QuantizeLinear");
      if (w.axis >= 0) q.attributes["axis"] = attr_int(w.axis);
      out.push_back(std::move(q));
      QValue wp = w;
      wp.q = wq;
      w_dq = ctx.dequantized(wp, b_name, out, true);
      ctx.replaced(w.q);  // the int8 copy ctx.weight made is not read in this form: never written
    } else {
      w_dq = ctx.dequantized(w, b_name, out, o.qdq_dedicated_pair);
      ctx.replaced(b_name);
    }
    Node m = n;
    m.inputs[0] = a_dq;
    m.inputs[1] = w_dq;
    out.push_back(std::move(m));
    ctx.stats().quantized[n.op_type]++;
  ctx.stats().quantized_nodes.push_back(n.name);
    return true;
  }

  // QOperator: the weight in [K, N] layout with Gemm's alpha folded in.
  Tensor w = *b;
  std::string variant;
  if (trans_b) {
    w = w.transposed_2d_f32();
    variant = "T";
  }
  if (alpha != 1.0f) {
    w = scaled(w, alpha);
    variant += fmt::format("x{}", alpha);
  }
  std::string bias;  // the Add after the integer product, if any
  if (!c_name.empty()) {
    if (beta == 1.0f) {
      bias = c_name;
    } else if (const Tensor* c = ctx.find_weight(scope, c_name)) {
      bias = ctx.add_initializer(*scope.graph, c_name + "_scaled", scaled(*c, beta));
    } else {
      return decline(ctx, n, "Gemm with beta != 1 on a non-constant C");
    }
  }
  if (o.is_static && !c_name.empty() && !ctx.find_weight(scope, bias))
    return decline(ctx, n, "Gemm with a non-constant C");
  QValue wq = ctx.weight(*owner, b_name, variant, w, o.weight_type, o.weight_symmetric, per_channel ? 1 : -1);
  ctx.replaced(b_name);
  std::string product = bias.empty() ? y : ctx.fresh(y + "_matmul");

  if (!o.is_static) {
    QValue a = ctx.dynamic_activation(scope, a_name, out);
    std::string mm = ctx.fresh(y + "_MatMul_output_quantized");
    out.push_back(ctx.make_node("MatMulInteger", {a.q, wq.q, a.zero_point, wq.zero_point}, {mm}, y + "_MatMulInteger"));
    std::string cast = ctx.fresh(mm + "_cast_output");
    Node c = ctx.make_node("Cast", {mm}, {cast}, mm + "_cast");
    c.attributes["to"] = attr_int((int64_t)DType::F32);
    out.push_back(std::move(c));
    std::string scales = ctx.fresh(y + "_scales_mul_output");
    out.push_back(ctx.make_node("Mul", {a.scale, wq.scale}, {scales}, y + "_scales_mul"));
    out.push_back(ctx.make_node("Mul", {cast, scales}, {product}, y + "_output_scale_mul"));
  } else {
    QValue a = ctx.static_activation(scope, a_name, out);
    auto [lo, hi] = ctx.range(y);
    if (!bias.empty()) {  // the range was measured after the bias: widen it to cover the product alone
      const Tensor* c = ctx.find_weight(scope, bias);
      float m = 0;
      for (int64_t i = 0; i < c->numel(); ++i) m = std::max(m, std::fabs(c->data<float>()[i]));
      lo -= m;
      hi += m;
    }
    ScaleZp p = compute_scale_zp(lo, hi, o.activation_type, o.activation_symmetric, false);
    std::string ys = ctx.add_initializer(*scope.graph, y + "_scale", Tensor::scalar<float>(p.scale));
    Tensor zp(o.activation_type, {});
    if (o.activation_type == DType::I8) zp.data<int8_t>()[0] = (int8_t)p.zero_point;
    else zp.data<uint8_t>()[0] = (uint8_t)p.zero_point;
    std::string yz = ctx.add_initializer(*scope.graph, y + "_zero_point", zp);
    std::string yq = ctx.fresh(y + "_quantized");
    out.push_back(ctx.make_node("QLinearMatMul", {a.q, a.scale, a.zero_point, wq.q, wq.scale, wq.zero_point, ys, yz},
                                {yq}, y + "_QLinearMatMul"));
    out.push_back(ctx.make_node("DequantizeLinear", {yq, ys, yz}, {product}, y + "_DequantizeLinear"));
  }
  if (!bias.empty()) out.push_back(ctx.make_node("Add", {product, bias}, {y}, y + "_bias_add"));
  ctx.stats().quantized[n.op_type]++;
  ctx.stats().quantized_nodes.push_back(n.name);
  return true;
}

}  // namespace kiln::quantize
