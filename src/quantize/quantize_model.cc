#include "quantize/quantize_model.h"

#include <algorithm>
#include <set>

#include "passes/opset_upgrade.h"
#include "quantize/rewrites.h"
#include "quantize/transposed_weights.h"

namespace kiln::quantize {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

enum class Kind { None, MatMul, Gather };

Kind selected(const Options& o, const Node& n) {
  if (!canonical_domain(n.domain).empty()) return Kind::None;
  if (!o.nodes_to_quantize.empty() && !contains(o.nodes_to_quantize, n.name)) return Kind::None;
  if (contains(o.nodes_to_exclude, n.name)) return Kind::None;
  if ((n.op_type == "MatMul" || n.op_type == "Gemm") && contains(o.op_types, n.op_type)) return Kind::MatMul;
  if (n.op_type == "Gather" && (o.quantize_embeddings || contains(o.op_types, "Gather"))) return Kind::Gather;
  return Kind::None;
}

void process(Context& ctx, const Scope& scope) {
  Graph& g = *scope.graph;
  std::vector<Node> out;
  out.reserve(g.nodes.size() * 2);
  for (Node& n : g.nodes) {
    for (auto& [k, a] : n.attributes) {
      if (a.g) process(ctx, Scope{a.g.get(), &scope});
      for (auto& sg : a.graphs) process(ctx, Scope{sg.get(), &scope});
    }
    bool done = false;
    switch (selected(ctx.options(), n)) {
      case Kind::MatMul: done = quantize_matmul(ctx, scope, n, out); break;
      case Kind::Gather: done = quantize_gather(ctx, scope, n, out); break;
      case Kind::None: break;
    }
    if (!done) out.push_back(std::move(n));
  }
  g.nodes = std::move(out);
}

}  // namespace

int promote_constant_weights(Graph& g) {
  std::set<std::string> weights;
  for (const Node& n : g.nodes) {
    if (!canonical_domain(n.domain).empty()) continue;
    if ((n.op_type == "MatMul" || n.op_type == "Gemm") && n.inputs.size() > 1) weights.insert(n.inputs[1]);
    if (n.op_type == "Gather" && !n.inputs.empty()) weights.insert(n.inputs[0]);
  }
  int promoted = 0;
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    for (auto& [k, a] : n.attributes) {
      if (a.g) promoted += promote_constant_weights(*a.g);
      for (auto& sg : a.graphs) promoted += promote_constant_weights(*sg);
    }
    auto value = n.attributes.find("value");
    bool promote = n.op_type == "Constant" && canonical_domain(n.domain).empty() && n.outputs.size() == 1 &&
                   n.attributes.size() == 1 && value != n.attributes.end() &&
                   value->second.kind == Attribute::Kind::Tensor && weights.count(n.outputs[0]) &&
                   !g.initializers.count(n.outputs[0]) && !g.find_input(n.outputs[0]);
    if (!promote) {
      kept.push_back(std::move(n));
      continue;
    }
    g.initializers[n.outputs[0]] = std::move(value->second.t);
    ++promoted;
  }
  g.nodes = std::move(kept);
  return promoted;
}

int materialize_tied_weights(Graph& g, const Options& options) {
  return materialize_transposed_weights(g, [&](const Node& n) { return selected(options, n) == Kind::MatMul; });
}

GraphStats quantize_model(Model& model, const Options& options, const Ranges* ranges) {
  GraphStats stats;
  promote_constant_weights(model.graph);
  materialize_tied_weights(model.graph, options);
  int64_t opset = model.opset("");
  int64_t need = options.is_static ? (options.format == Format::QDQ ? 10 : 10) : 11;
  if (opset < need) {
    // Raising the import alone would leave old-form nodes (Clip min/max attributes, ...) that the new
    // opset reads differently; upgrade_opset converts them, or refuses before anything is written.
    OpsetUpgrade up = upgrade_opset(model, need);
    stats.warnings.push_back(fmt::format(
        "the model imports ONNX opset {}; quantized ops need opset {}: the model was upgraded to opset {} ({} "
        "node(s) rewritten to the new operator forms)",
        opset, need, need, up.nodes_rewritten));
  }
  if (options.per_channel && options.format == Format::QDQ && model.opset("") < 13)
    stats.warnings.push_back(fmt::format(
        "per-channel DequantizeLinear needs opset 13 and the model imports {}: weights quantized per tensor",
        model.opset("")));
  Context ctx(model, options, ranges, stats);
  process(ctx, Scope{&model.graph, nullptr});
  ctx.sweep();
  restore_transposed_weights(model.graph);  // products left float read the table through a Transpose again
  if (stats.total_quantized() == 0)
    stats.warnings.push_back("nothing to quantize: no node of the requested types has a constant float weight");
  return stats;
}

namespace {

void calibration_values(const Options& o, const Graph& g, std::vector<const Graph*>& stack, std::vector<std::string>& out) {
  auto is_const = [&](const std::string& name) {
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
      if ((*it)->find_input(name)) return false;
      if ((*it)->initializers.count(name)) return true;
    }
    return false;
  };
  auto add = [&](const std::string& v) {
    if (!contains(out, v)) out.push_back(v);
  };
  for (const Node& n : g.nodes) {
    for (const auto& [k, a] : n.attributes) {
      std::vector<const Graph*> subs;
      if (a.g) subs.push_back(a.g.get());
      for (const auto& sg : a.graphs) subs.push_back(sg.get());
      for (const Graph* sg : subs) {
        stack.push_back(sg);
        calibration_values(o, *sg, stack, out);
        stack.pop_back();
      }
    }
    if (selected(o, n) != Kind::MatMul || n.inputs.size() < 2 || n.outputs.empty()) continue;
    if (!is_const(n.inputs[1]) || is_const(n.inputs[0])) continue;
    add(n.inputs[0]);
    if (o.format == Format::QOperator) add(n.outputs[0]);
  }
}

}  // namespace

std::vector<std::string> values_to_calibrate(const Model& model, const Options& options) {
  std::vector<std::string> out;
  std::vector<const Graph*> stack{&model.graph};
  calibration_values(options, model.graph, stack, out);
  return out;
}

}  // namespace kiln::quantize
