#include "passes/opset_upgrade.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "passes/opset_history.h"

namespace kiln {

namespace {

// What the converters need while one graph is converted. Nothing here touches the model: the
// converted node lists and new initializers are applied only once every graph converted.
struct Ctx {
  std::set<std::string>* names = nullptr;         // every value name in the model (fresh names)
  const std::map<std::string, DType>* types = nullptr;  // element types known in this scope
  const std::map<std::string, int64_t>* ranks = nullptr;
  const Graph* graph = nullptr;  // the graph being converted, as it was
  int64_t from = 0, target = 0;
  std::vector<Node> before, after;          // nodes emitted around the one converted
  std::map<std::string, Tensor> initializers;  // new initializers of this graph

  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (int i = 1; names->count(name); ++i) name = hint + "_" + std::to_string(i);
    names->insert(name);
    return name;
  }
  std::string constant(const Node& n, const std::string& what, Tensor t) {
    std::string name = fresh((n.name.empty() ? n.outputs.at(0) : n.name) + "_" + what);
    initializers[name] = std::move(t);
    return name;
  }
};

[[noreturn]] void refuse(const Node& n, const Ctx& c, const std::string& why) {
  throw Unsupported(fmt::format(
      "{} cannot be upgraded from opset {} to {}: {}; re-export the model at opset {} or convert it with "
      "onnx.version_converter first",
      n.label(), c.from, c.target, why, c.target));
}

Tensor i64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v); }

std::vector<int64_t> take_ints(Node& n, const std::string& k) {
  std::vector<int64_t> v = n.attr_ints(k);
  n.attributes.erase(k);
  return v;
}

void erase(Node& n, std::initializer_list<const char*> keys) {
  for (const char* k : keys) n.attributes.erase(k);
}

// The element type of value `v` (input of `n`), or a refusal saying it is unknown.
DType type_of(const Node& n, const std::string& v, const Ctx& c) {
  auto it = c.types->find(v);
  if (it == c.types->end() || it->second == DType::Undefined)
    refuse(n, c, fmt::format("the element type of '{}' is unknown (give it a value_info)", v));
  return it->second;
}

// A scalar of x's element type for an attribute that becomes an input.
std::string scalar_like(Node& n, Ctx& c, const std::string& what, float v) {
  DType t = type_of(n, n.inputs.at(0), c);
  return c.constant(n, what, Tensor::scalar<float>(v).cast(t));
}

void set_string(Node& n, const std::string& k, const std::string& v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = v;
  n.attributes[k] = a;
}

void set_int(Node& n, const std::string& k, int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  n.attributes[k] = a;
}

void pad_inputs(Node& n, size_t count) {
  if (n.inputs.size() < count) n.inputs.resize(count);
}

void trim_inputs(Node& n) {
  while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
}

// ---- the conversions, one per schema change; each edits node n (at `since`) -------------------

using Convert = std::function<void(Node&, Ctx&)>;

void drop_consumed_inputs(Node& n, Ctx&) { erase(n, {"consumed_inputs"}); }

// Opset 7 moved the arithmetic and comparison ops from the legacy broadcast attribute to numpy
// broadcasting. Both agree when B's dimensions line up with A's trailing ones, which is what
// `broadcast` without `axis` means; an explicit axis would need an Unsqueeze of unknown rank.
void legacy_broadcast(Node& n, Ctx& c) {
  if (n.has_attr("axis") && n.attr_int("broadcast", 0) != 0) refuse(n, c, "legacy broadcast with an explicit axis");
  erase(n, {"broadcast", "axis"});
}

void remove_is_test(Node& n, Ctx&) { erase(n, {"is_test"}); }

void batchnorm_spatial(Node& n, Ctx& c) {
  if (n.attr_int("spatial", 1) != 1) refuse(n, c, "spatial=0 (per-element statistics) has no opset-9 form");
  erase(n, {"spatial"});
}

// Opset 14 keeps a single output outside training; the older optional outputs were training only.
void batchnorm_outputs(Node& n, Ctx& c) {
  while (n.outputs.size() > 1 && n.outputs.back().empty()) n.outputs.pop_back();
  if (n.outputs.size() > 1) refuse(n, c, "training-mode outputs (mean, var, saved statistics)");
}

void dropout_ratio(Node& n, Ctx& c) {
  if (!n.has_attr("ratio")) return;
  float r = n.attr_float("ratio", 0.5f);
  erase(n, {"ratio"});
  pad_inputs(n, 2);
  n.inputs[1] = c.constant(n, "ratio", Tensor::scalar<float>(r));
}

void gemm_broadcast(Node& n, Ctx&) { erase(n, {"broadcast"}); }

void concat_axis(Node& n, Ctx&) {
  if (!n.has_attr("axis")) set_int(n, "axis", 1);
}

void reshape_shape(Node& n, Ctx& c) {
  if (!n.has_attr("shape")) return;
  std::vector<int64_t> s = take_ints(n, "shape");
  pad_inputs(n, 2);
  n.inputs[1] = c.constant(n, "shape", i64s(s));
}

void cast_to(Node& n, Ctx& c) {
  const Attribute* to = n.attr("to");
  if (!to || to->kind != Attribute::Kind::String) return;
  static const std::map<std::string, DType> names = {
      {"FLOAT", DType::F32},   {"UINT8", DType::U8},   {"INT8", DType::I8},       {"UINT16", DType::U16},
      {"INT16", DType::I16},   {"INT32", DType::I32},  {"INT64", DType::I64},     {"BOOL", DType::Bool},
      {"FLOAT16", DType::F16}, {"DOUBLE", DType::F64}, {"UINT32", DType::U32},    {"UINT64", DType::U64}};
  auto it = names.find(to->s);
  if (it == names.end()) refuse(n, c, fmt::format("Cast to '{}'", to->s));
  set_int(n, "to", (int64_t)it->second);
}

void clip_min_max(Node& n, Ctx& c) {
  bool lo = n.has_attr("min"), hi = n.has_attr("max");
  float vlo = n.attr_float("min", 0), vhi = n.attr_float("max", 0);
  erase(n, {"min", "max"});
  pad_inputs(n, 3);
  if (lo) n.inputs[1] = scalar_like(n, c, "min", vlo);
  if (hi) n.inputs[2] = scalar_like(n, c, "max", vhi);
  trim_inputs(n);
}

void pad_paddings(Node& n, Ctx&) {
  auto it = n.attributes.find("paddings");
  if (it == n.attributes.end()) return;
  n.attributes["pads"] = it->second;
  n.attributes.erase(it);
}

void pad_inputs_11(Node& n, Ctx& c) {
  std::vector<int64_t> pads = take_ints(n, "pads");
  float value = n.attr_float("value", 0.0f);
  erase(n, {"value"});
  pad_inputs(n, 2);
  n.inputs[1] = c.constant(n, "pads", i64s(pads));
  if (value != 0.0f && n.attr_string("mode", "constant") == "constant") {
    pad_inputs(n, 3);
    n.inputs[2] = scalar_like(n, c, "value", value);
  }
}

void slice_inputs(Node& n, Ctx& c) {
  if (!n.has_attr("starts")) return;
  std::vector<int64_t> starts = take_ints(n, "starts"), ends = take_ints(n, "ends");
  bool has_axes = n.has_attr("axes");
  std::vector<int64_t> axes = take_ints(n, "axes");
  n.inputs.resize(1);
  n.inputs.push_back(c.constant(n, "starts", i64s(starts)));
  n.inputs.push_back(c.constant(n, "ends", i64s(ends)));
  if (has_axes) n.inputs.push_back(c.constant(n, "axes", i64s(axes)));
}

void topk_k(Node& n, Ctx& c) {
  if (!n.has_attr("k")) return;
  int64_t k = n.attr_int("k", 0);
  erase(n, {"k"});
  n.inputs.resize(1);
  n.inputs.push_back(c.constant(n, "k", i64s({k})));
}

void split_input_form(Node& n, Ctx& c) {
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) refuse(n, c, "the split sizes are an input (Split-1)");
}

void split_sizes(Node& n, Ctx& c) {
  if (!n.has_attr("split")) return;
  std::vector<int64_t> s = take_ints(n, "split");
  n.inputs.resize(1);
  n.inputs.push_back(c.constant(n, "split", i64s(s)));
}

// Split-18 needs num_outputs when no sizes are given (equal parts).
void split_num_outputs(Node& n, Ctx&) {
  if ((n.inputs.size() < 2 || n.inputs[1].empty()) && !n.has_attr("num_outputs"))
    set_int(n, "num_outputs", (int64_t)n.outputs.size());
}

void axes_to_input(Node& n, Ctx& c) {
  if (!n.has_attr("axes")) return;
  std::vector<int64_t> axes = take_ints(n, "axes");
  pad_inputs(n, 1);
  n.inputs.resize(1);
  n.inputs.push_back(c.constant(n, "axes", i64s(axes)));
}

// Before opset 13 Softmax, LogSoftmax and Hardmax flatten the input to 2-D at `axis` (default 1)
// and normalise each row; from 13 they normalise along the one axis (default -1). Same thing when
// the axis is the last one; else Flatten -> op(axis 1) -> Reshape back to the input's shape.
void softmax_axis(Node& n, Ctx& c) {
  int64_t axis = n.attr_int("axis", 1);
  auto rank = c.ranks->find(n.inputs.at(0));
  if (axis == -1 || (rank != c.ranks->end() && axis == rank->second - 1)) {
    set_int(n, "axis", -1);
    return;
  }
  std::string base = n.name.empty() ? n.outputs.at(0) : n.name;
  Node shape, flatten, reshape;
  shape.op_type = "Shape";
  shape.name = c.fresh(base + "_shape");
  shape.inputs = {n.inputs[0]};
  shape.outputs = {c.fresh(base + "_input_shape")};
  flatten.op_type = "Flatten";
  flatten.name = c.fresh(base + "_flatten");
  flatten.inputs = {n.inputs[0]};
  flatten.outputs = {c.fresh(base + "_2d")};
  set_int(flatten, "axis", axis);
  reshape.op_type = "Reshape";
  reshape.name = c.fresh(base + "_reshape");
  reshape.outputs = {n.outputs.at(0)};
  std::string out2d = c.fresh(base + "_out_2d");
  reshape.inputs = {out2d, shape.outputs[0]};
  n.inputs[0] = flatten.outputs[0];
  n.outputs[0] = out2d;
  set_int(n, "axis", 1);
  c.before.push_back(std::move(shape));
  c.before.push_back(std::move(flatten));
  c.after.push_back(std::move(reshape));
}

// Upsample-1 (height_scale, width_scale, mode "bilinear") -> Upsample-7 (scales, mode "linear").
void upsample_7(Node& n, Ctx&) {
  if (!n.has_attr("height_scale") && !n.has_attr("width_scale")) return;
  float h = n.attr_float("height_scale", 1.0f), w = n.attr_float("width_scale", 1.0f);
  erase(n, {"height_scale", "width_scale"});
  Attribute s;
  s.kind = Attribute::Kind::Floats;
  s.floats = {1.0f, 1.0f, h, w};
  n.attributes["scales"] = s;
  if (n.attr_string("mode", "nearest") == "bilinear") set_string(n, "mode", "linear");
}

void upsample_scales_input(Node& n, Ctx& c) {
  if (!n.has_attr("scales")) return;
  std::vector<float> s = n.attr_floats("scales");
  erase(n, {"scales"});
  n.inputs.resize(1);
  n.inputs.push_back(c.constant(n, "scales", Tensor::from_vector<float>({(int64_t)s.size()}, s)));
}

// Upsample is deprecated at 10; Resize-10 has the same inputs, attributes and meaning.
void upsample_to_resize(Node& n, Ctx& c) {
  upsample_scales_input(n, c);
  n.op_type = "Resize";
}

// The value of `v` when it is an initializer or a Constant's tensor in the graph; nullptr otherwise.
const Tensor* constant_value(const Ctx& c, const std::string& v) {
  auto it = c.graph->initializers.find(v);
  if (it != c.graph->initializers.end()) return &it->second;
  for (const Node& n : c.graph->nodes)
    if (n.op_type == "Constant" && !n.outputs.empty() && n.outputs[0] == v) {
      const Attribute* a = n.attr("value");
      return a && a->kind == Attribute::Kind::Tensor ? &a->t : nullptr;
    }
  return nullptr;
}

// Resize-10 (X, scales) -> Resize-11 (X, roi, scales). Resize-10 maps output to input coordinates
// as x / scale and takes the nearest pixel below when it grows (as Upsample does); Resize-11's
// defaults are half_pixel and round_prefer_floor, so both are written explicitly.
void resize_11(Node& n, Ctx& c) {
  std::string scales = n.inputs.size() > 1 ? n.inputs[1] : "";
  // ONNX Runtime, the reference implementation of Resize-10, rounds up instead when it shrinks: ceil
  // for scales all <= 1 (known as constants); a mix of shrinking and growing has no opset-11 form.
  std::string nearest = "floor";
  if (const Tensor* s = constant_value(c, scales)) {
    bool down = false, up = false;
    for (int64_t i = 0; i < s->numel(); ++i) {
      down |= s->item_f64(i) < 1.0;
      up |= s->item_f64(i) > 1.0;
    }
    if (down && up && n.attr_string("mode", "nearest") == "nearest")
      refuse(n, c, "nearest Resize-10 that shrinks some axes and grows others");
    if (down) nearest = "ceil";
  }
  std::string roi = c.target >= 13 ? "" : c.constant(n, "roi", Tensor(DType::F32, {0}));
  n.inputs = {n.inputs.at(0), roi, scales};
  set_string(n, "coordinate_transformation_mode", "asymmetric");
  if (n.attr_string("mode", "nearest") == "nearest") set_string(n, "nearest_mode", nearest);
}

void scatter_to_elements(Node& n, Ctx&) { n.op_type = "ScatterElements"; }

void roialign_mode(Node& n, Ctx&) {
  if (!n.has_attr("coordinate_transformation_mode")) set_string(n, "coordinate_transformation_mode", "output_half_pixel");
}

void gridsample_mode(Node& n, Ctx&) {
  std::string m = n.attr_string("mode", "bilinear");
  set_string(n, "mode", m == "bilinear" ? "linear" : m == "bicubic" ? "cubic" : m);
}

// ---- the table ----------------------------------------------------------------------------------

struct Step {
  OpsetStep kind;
  Convert convert;  // Rewrite only
  const char* why;  // Refused only
};

using StepKey = std::pair<std::string, int>;

const std::map<StepKey, Step>& steps() {
  static const std::map<StepKey, Step> t = [] {
    std::map<StepKey, Step> m;
    auto rewrite = [&](std::initializer_list<const char*> ops, int since, Convert f) {
      for (const char* op : ops) m[{op, since}] = Step{OpsetStep::Rewrite, f, nullptr};
    };
    auto refused = [&](std::initializer_list<const char*> ops, int since, const char* why) {
      for (const char* op : ops) m[{op, since}] = Step{OpsetStep::Refused, nullptr, why};
    };
    rewrite({"Abs", "Add", "BatchNormalization", "Ceil", "Clip", "Div", "Dropout", "Elu", "Exp", "Floor",
             "HardSigmoid", "InstanceNormalization", "LeakyRelu", "Log", "Max", "Mean", "Min", "Mul", "Neg",
             "PRelu", "Reciprocal", "Relu", "Selu", "Sigmoid", "Sqrt", "Sub", "Sum", "Tanh"},
            6, drop_consumed_inputs);
    rewrite({"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less"}, 7, legacy_broadcast);
    rewrite({"BatchNormalization", "Dropout"}, 7, remove_is_test);
    rewrite({"BatchNormalization"}, 9, batchnorm_spatial);
    rewrite({"BatchNormalization"}, 14, batchnorm_outputs);
    rewrite({"Dropout"}, 12, dropout_ratio);
    rewrite({"Gemm"}, 7, gemm_broadcast);
    rewrite({"Concat"}, 4, concat_axis);
    rewrite({"Reshape"}, 5, reshape_shape);
    rewrite({"Cast"}, 6, cast_to);
    rewrite({"Clip"}, 11, clip_min_max);
    rewrite({"Pad"}, 2, pad_paddings);
    rewrite({"Pad"}, 11, pad_inputs_11);
    rewrite({"Slice"}, 10, slice_inputs);
    rewrite({"TopK"}, 10, topk_k);
    rewrite({"Split"}, 2, split_input_form);
    rewrite({"Split"}, 13, split_sizes);
    rewrite({"Split"}, 18, split_num_outputs);
    rewrite({"Squeeze", "Unsqueeze", "ReduceSum"}, 13, axes_to_input);
    rewrite({"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
             "ReduceLogSumExp", "ReduceSumSquare"},
            18, axes_to_input);
    rewrite({"Softmax", "LogSoftmax", "Hardmax"}, 13, softmax_axis);
    rewrite({"Upsample"}, 7, upsample_7);
    rewrite({"Upsample"}, 9, upsample_scales_input);
    rewrite({"Upsample"}, 10, upsample_to_resize);
    rewrite({"Resize"}, 11, resize_11);
    rewrite({"Scatter"}, 11, scatter_to_elements);
    rewrite({"RoiAlign"}, 16, roialign_mode);
    rewrite({"GridSample"}, 20, gridsample_mode);
    refused({"GRU"}, 3, "GRU-3 dropped output_sequence and changed its outputs");
    refused({"GRU", "LSTM", "RNN"}, 7, "the recurrent ops' outputs and attributes changed at opset 7");
    refused({"Tile"}, 6, "Tile-1's tiles and axis inputs became one repeats input");
    refused({"GlobalLpPool", "LpPool"}, 2, "p became an integer attribute");
    refused({"Scan"}, 9, "Scan-8's batch dimension and sequence_lens were removed");
    refused({"DFT"}, 20, "the axis attribute became an input with another meaning of the default");
    refused({"GroupNormalization"}, 21, "scale and bias became per channel instead of per group");
    return m;
  }();
  return t;
}

std::vector<std::string> list(OpsetStep kind) {
  std::vector<std::string> out;
  for (const auto& [k, s] : steps())
    if (s.kind == kind) out.push_back(k.first + "@" + std::to_string(k.second));
  return out;
}

// ---- element types and ranks, as far as the graph tells -----------------------------------------

struct Scope {
  std::map<std::string, DType> types;
  std::map<std::string, int64_t> ranks;
};

void learn(Scope& s, const ValueInfo& v) {
  if (v.dtype != DType::Undefined) s.types[v.name] = v.dtype;
  if (v.shape) s.ranks[v.name] = (int64_t)v.shape->size();
}

void infer(const Graph& g, Scope& s) {
  for (const auto& v : g.inputs) learn(s, v);
  for (const auto& v : g.outputs) learn(s, v);
  for (const auto& v : g.value_info) learn(s, v);
  for (const auto& [name, t] : g.initializers) {
    s.types[name] = t.dtype();
    s.ranks[name] = (int64_t)t.shape().size();
  }
  static const std::set<std::string> to_i64 = {"Shape", "Size", "NonZero", "ArgMax", "ArgMin"};
  static const std::set<std::string> to_bool = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not",
                                                "And", "Or", "Xor", "IsNaN", "IsInf"};
  // Ops whose first output has the element type of their first input.
  static const std::set<std::string> same = {
      "Abs", "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Tanh",
      "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Clip", "Max", "Min", "Sum", "Mean", "MatMul",
      "Gemm", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
      "BatchNormalization", "InstanceNormalization", "LayerNormalization", "Dropout", "Identity", "Reshape",
      "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Gather", "GatherElements", "GatherND",
      "Expand", "Tile", "Pad", "Split", "Upsample", "Resize", "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum",
      "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
      "ReduceLogSumExp", "Erf", "PRelu", "HardSigmoid", "Softplus", "Softsign", "Where", "TopK", "DepthToSpace",
      "SpaceToDepth", "LRN", "Sin", "Cos", "Sign", "Round", "Mod", "CumSum", "ScatterElements", "ScatterND",
      "Scatter"};
  for (const Node& n : g.nodes) {
    if (n.outputs.empty() || n.outputs[0].empty() || !canonical_domain(n.domain).empty()) continue;
    DType t = DType::Undefined;
    if (n.op_type == "Cast" && n.attr("to") && n.attr("to")->kind == Attribute::Kind::Int) {
      t = (DType)n.attr_int("to", 0);
    } else if (n.op_type == "Constant") {
      const Attribute* v = n.attr("value");
      if (v && v->kind == Attribute::Kind::Tensor) t = v->t.dtype();
      else if (n.has_attr("value_float") || n.has_attr("value_floats")) t = DType::F32;
      else if (n.has_attr("value_int") || n.has_attr("value_ints")) t = DType::I64;
    } else if (to_i64.count(n.op_type)) {
      t = DType::I64;
    } else if (to_bool.count(n.op_type)) {
      t = DType::Bool;
    } else if (n.op_type == "Where" && n.inputs.size() > 1 && s.types.count(n.inputs[1])) {
      t = s.types[n.inputs[1]];
    } else if (same.count(n.op_type) && !n.inputs.empty() && s.types.count(n.inputs[0])) {
      t = s.types[n.inputs[0]];
    }
    if (t != DType::Undefined && !s.types.count(n.outputs[0])) s.types[n.outputs[0]] = t;
    if (n.op_type == "Split" && t != DType::Undefined)
      for (const auto& o : n.outputs)
        if (!o.empty() && !s.types.count(o)) s.types[o] = t;
  }
}

// ---- walking the model ---------------------------------------------------------------------------

struct Pending {
  Graph* graph;
  std::vector<Node> nodes;
  std::map<std::string, Tensor> initializers;
};

void collect_names(const Graph& g, std::set<std::string>& names) {
  for (const auto& v : g.inputs) names.insert(v.name);
  for (const auto& [k, _] : g.initializers) names.insert(k);
  for (const Node& n : g.nodes) {
    names.insert(n.name);
    for (const auto& o : n.outputs) names.insert(o);
    for (const auto& [k, a] : n.attributes) {
      if (a.g) collect_names(*a.g, names);
      for (const auto& sg : a.graphs) collect_names(*sg, names);
    }
  }
}

struct Walker {
  int64_t from, target;
  std::set<std::string> names;
  std::vector<Pending> pending;
  int rewritten = 0;

  void graph(Graph& g, const Scope& outer) {
    Scope scope = outer;
    infer(g, scope);
    Pending p{&g, {}, {}};
    for (const Node& original : g.nodes) {
      for (const auto& [k, a] : original.attributes) {
        if (a.g) graph(*a.g, scope);
        for (const auto& sg : a.graphs) graph(*sg, scope);
      }
      Ctx c;
      c.names = &names;
      c.types = &scope.types;
      c.ranks = &scope.ranks;
      c.graph = &g;
      c.from = from;
      c.target = target;
      Node n = original;
      bool changed = canonical_domain(n.domain).empty() && node(n, c);
      rewritten += changed;
      for (auto& b : c.before) p.nodes.push_back(std::move(b));
      p.nodes.push_back(std::move(n));
      for (auto& a : c.after) p.nodes.push_back(std::move(a));
      for (auto& [k, t] : c.initializers) p.initializers[k] = std::move(t);
    }
    pending.push_back(std::move(p));
  }

  // Applies every schema change of n's op in (from, target]; true when one rewrote it.
  bool node(Node& n, Ctx& c) {
    bool changed = false;
    int64_t at = from;
    while (true) {
      const std::vector<int>* h = opset_history(n.op_type);
      if (!h) refuse(n, c, fmt::format("kiln does not know the versions of {}", n.op_type));
      auto next = std::find_if(h->begin() + 1, h->end(), [&](int s) { return s > at && s <= target; });
      if (next == h->end()) break;
      const std::string op = n.op_type;
      auto step = steps().find({op, *next});
      if (step != steps().end()) {
        if (step->second.kind == OpsetStep::Refused) refuse(n, c, step->second.why);
        step->second.convert(n, c);
        changed = true;
      }
      at = *next;
    }
    return changed;
  }
};

bool uses_default_domain(const Graph& g) {
  for (const Node& n : g.nodes) {
    if (canonical_domain(n.domain).empty()) return true;
    for (const auto& [k, a] : n.attributes) {
      if (a.g && uses_default_domain(*a.g)) return true;
      for (const auto& sg : a.graphs)
        if (uses_default_domain(*sg)) return true;
    }
  }
  return false;
}

}  // namespace

OpsetStep opset_step(const std::string& op_type, int since) {
  const std::vector<int>* h = opset_history(op_type);
  if (!h || since == h->front() || std::find(h->begin(), h->end(), since) == h->end()) return OpsetStep::NotAChange;
  auto it = steps().find({op_type, since});
  return it == steps().end() ? OpsetStep::Compatible : it->second.kind;
}

std::vector<std::string> opset_rewrite_steps() { return list(OpsetStep::Rewrite); }
std::vector<std::string> opset_refused_steps() { return list(OpsetStep::Refused); }

OpsetUpgrade upgrade_opset(Model& model, int64_t target) {
  OpsetUpgrade r;
  r.from = r.to = model.opset("");
  if (target <= r.from) return r;
  KILN_CHECK(target <= kNewestKnownOpset, Unsupported,
             "cannot upgrade to opset {}: kiln knows ONNX operators up to opset {}; choose {} or lower", target,
             kNewestKnownOpset, kNewestKnownOpset);
  if (r.from < 1) {  // nothing imports ai.onnx: only a graph without default-domain nodes is valid
    KILN_CHECK(!uses_default_domain(model.graph), BadModel,
               "the model uses ai.onnx operators but imports no ai.onnx opset: add the opset it was exported with");
    model.set_opset("", target);
    model.ir_version = std::max(model.ir_version, min_ir_version(target));
    r.to = target;
    return r;
  }
  Walker w;
  w.from = r.from;
  w.target = target;
  collect_names(model.graph, w.names);
  w.graph(model.graph, Scope{});  // throws before anything below changes the model
  for (Pending& p : w.pending) {
    p.graph->nodes = std::move(p.nodes);
    for (auto& [k, t] : p.initializers) p.graph->initializers[k] = std::move(t);
  }
  model.set_opset("", target);
  model.ir_version = std::max(model.ir_version, min_ir_version(target));
  r.to = target;
  r.nodes_rewritten = w.rewritten;
  return r;
}

}  // namespace kiln
