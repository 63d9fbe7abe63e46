// Attention as torch.onnx.export writes it (DistilBERT, BERT, T5 encoders; the exporter's names):
//   Q4 = Transpose(Reshape(q, [b, s, H, D]), perm 0213)  [optionally Div/Mul by a constant scalar]
//   Kt = Transpose(Reshape(k, [b, t, H, D]), perm 0231)
//   V4 = Transpose(Reshape(v, [b, t, H, Dv]), perm 0213)
//   scores = MatMul(Q4, Kt), then in any order: Div/Mul by a constant scalar, Add(bias or mask),
//            Where(mask, fill, .) / Where(mask, ., fill) with a constant scalar fill, Cast to float
//   out = Transpose(MatMul(Softmax(scores, axis -1), V4), perm 0213)        -> [b, s, H, Dv]
// becomes kiln:Attention(q4, k4, v4, extra tensors...) -> out, where q4/k4/v4 are the Reshape
// outputs (token-major views, no copy), so the four Transposes and the [b, H, s, t] score and
// probability tensors disappear. The mask Where's condition may be Cast(Expand(m, Shape(scores)))
// (DistilBERT): the kernel broadcasts m itself, so the Shape/Expand/Cast go too.
// BART's form (transformers' BartAttention) merges the heads into the batch around both products:
//   q3 = Reshape(Transpose(Reshape(Mul(q, scaling), [b, s, H, D]), 0213), [b*H, s, D]); k3, v3 alike
//        (or merged from a [b, H, t, D] value: a KV cache's Concat, an encoder's keys as an input)
//   scores = MatMul(q3, Transpose(k3, 021)) -> Reshape [b, H, s, t] -> Add(mask) -> Reshape [b*H, s, t]
//   out = Transpose(Reshape(MatMul(Softmax(scores), v3), [b, H, s, Dv]), 0213)
// and becomes the same node: the q scaling before the 4-D Reshape is the node's q_scale (q is read
// through a Reshape view of the unscaled projection), and the 3-D Reshapes, the extra Transposes
// and the 4-D <-> 3-D Reshapes around the score ops go (with the Shape/Gather/Concat nodes that only
// sized them, which dead-node removal drops). Only when every one of those Reshapes is proven, from
// the sizes the graph computes (passes/shape_symbols.h), to merge or split exactly (b, H) and keep
// s, t and D; tensors (mask Add / Where) only where the scores are [b, H, s, t]; the batch and head
// counts of k and v are q's, which the kernel checks at run time (Unsupported, naming
// --optimization-level 1, otherwise).
// GPT-2's form (transformers' GPT2Attention) is the first one with its cache Concat along axis -2,
// the scores divided by a tensor (sqrt(head_dim) from the value's Shape: a score op with a tensor,
// broadcast by the kernel), the causal mask's lengths read from the transposed query's Shape (read
// from the Reshape before it instead, read_shapes_before_transposes) and a Cast to float after the
// Softmax.
// A session-time rewrite (level 2): kiln never saves this op. Anything else is left as it is.
#include <algorithm>
#include <cmath>

#include "passes/passes.h"
#include "passes/pattern.h"
#include "passes/shape_symbols.h"

namespace kiln {

namespace {

bool is_onnx(const Node& n, const char* op) { return n.op_type == op && canonical_domain(n.domain).empty(); }

bool has_perm(const Node& n, std::vector<int64_t> perm) {
  return is_onnx(n, "Transpose") && n.inputs.size() == 1 && n.attr_ints("perm") == perm;
}

// A constant scalar (one element) that does not widen a 4-D operand: rank at most 4.
std::optional<float> scalar_const(const Graph& g, const GraphIndex& ix, const std::string& v) {
  auto s = ix.scalar(v);
  if (!s) return std::nullopt;
  auto it = g.initializers.find(v);
  if (it->second.dtype() != DType::F32 || it->second.rank() > 4) return std::nullopt;
  return s;
}

struct ScoreOp {
  // "mul", "div", "add", "where_true" (cond ? fill : x), "where_false" (cond ? x : fill); while
  // matching also "reshape" (tensor: the target), which the 3-D form has around its mask.
  std::string kind;
  float scalar = 0;
  std::string tensor;   // add: the addend; where: the condition
  int scalar_rank = 0;  // mul / div: the constant's rank
};

class Matcher {
 public:
  Matcher(const Graph& g, const GraphIndex& ix, const std::unordered_set<int>& taken) : g_(g), ix_(ix), taken_(taken) {}

  // The node producing `v` when it is free to absorb: not yet fused, and `v` read only by
  // `readers` nodes (plus the Shape nodes `extra_readers` allows), never a graph output.
  int absorbable(const std::string& v, size_t readers = 1) {
    int p = ix_.producer(v);
    if (p < 0 || taken_.count(p) || dead_.count(p)) return -1;
    if (!ix_.used_only_by(v, readers)) return -1;
    for (int c : ix_.consumers(v))
      if (c < 0) return -1;
    return p;
  }

  // Tries a Softmax node; on success fills the fused node and the nodes it replaces.
  bool match(int sm_i, Node& fused) {
    const Node& sm = g_.nodes[sm_i];
    if (!is_onnx(sm, "Softmax") || sm.inputs.size() != 1 || !sm.has_attr("axis")) return false;
    int64_t axis = sm.attr_int("axis", 0);
    if (axis != -1 && axis != 2 && axis != 3) return false;
    dead_.insert(sm_i);

    // Backwards from the softmax input to the Q.K product.
    std::vector<ScoreOp> ops;
    std::string v = sm.inputs[0];
    int qk_i = -1;
    for (int guard = 0; guard < 12 && qk_i < 0; ++guard) {
      size_t readers = 1 + shape_readers(v);
      int p = absorbable(v, readers);
      if (p < 0) return false;
      const Node& n = g_.nodes[p];
      dead_.insert(p);
      if (is_onnx(n, "MatMul") && n.inputs.size() == 2) {
        qk_i = p;
      } else if (is_onnx(n, "Cast") && n.inputs.size() == 1 && n.attr_int("to", 0) == (int64_t)DType::F32) {
        v = n.inputs[0];  // float -> float: the kernel runs float32 only
      } else if ((is_onnx(n, "Div") || is_onnx(n, "Mul")) && n.inputs.size() == 2) {
        bool div = n.op_type == "Div";
        int chain = div ? 0 : (scalar_const(g_, ix_, n.inputs[1]) ? 0 : 1);
        if (auto s = scalar_const(g_, ix_, n.inputs[1 - chain])) {
          ops.push_back({div ? "div" : "mul", *s, "", g_.initializers.at(n.inputs[1 - chain]).rank()});
          v = n.inputs[chain];
        } else {
          // By a tensor made apart from the scores (GPT-2 divides by sqrt(head_dim) computed from
          // the value's Shape): the kernel broadcasts it like an added mask.
          chain = pick_chain(n);
          if (chain < 0 || (div && chain != 0)) return false;
          ops.push_back({div ? "div" : "mul", 0, n.inputs[1 - chain]});
          v = n.inputs[chain];
        }
      } else if (is_onnx(n, "Reshape") && n.inputs.size() == 2) {
        ops.push_back({"reshape", 0, n.inputs[1]});  // only where the product is 3-D (below)
        v = n.inputs[0];
      } else if (is_onnx(n, "Add") && n.inputs.size() == 2) {
        // The addend must not depend on the chain; it comes from outside (mask, position bias).
        int chain = pick_chain(n);
        if (chain < 0) return false;
        ops.push_back({"add", 0, n.inputs[1 - chain]});
        v = n.inputs[chain];
      } else if (is_onnx(n, "Where") && n.inputs.size() == 3) {
        std::optional<float> fill;
        int chain;
        if ((fill = scalar_const(g_, ix_, n.inputs[1]))) chain = 2;
        else if ((fill = scalar_const(g_, ix_, n.inputs[2]))) chain = 1;
        else return false;
        std::string cond = n.inputs[0];
        if (!cond_source(cond, n.inputs[chain])) return false;
        ops.push_back({chain == 2 ? "where_true" : "where_false", *fill, cond});
        v = n.inputs[chain];
      } else {
        return false;
      }
    }
    if (qk_i < 0) return false;
    std::reverse(ops.begin(), ops.end());
    const Node& qk = g_.nodes[qk_i];
    // BART's form: 3-D products of [b*H, s, D] and [b*H, D, t] (the key transposed 021).
    int kt_i = ix_.producer(qk.inputs[1]);
    if (kt_i >= 0 && has_perm(g_.nodes[kt_i], {0, 2, 1})) return match_merged(sm_i, axis, qk_i, ops, fused);
    if (axis == 2) return false;
    for (const auto& op : ops)
      if (op.kind == "reshape") return false;

    // Q side: [scale] <- Transpose 0213 <- Reshape output.
    Node q_side;
    std::optional<float> q_scale;
    std::string q_scale_op;
    int p = absorbable(qk.inputs[0]);
    if (p < 0) return false;
    if ((is_onnx(g_.nodes[p], "Div") || is_onnx(g_.nodes[p], "Mul")) && g_.nodes[p].inputs.size() == 2) {
      const Node& n = g_.nodes[p];
      bool div = n.op_type == "Div";
      int chain = div ? 0 : (scalar_const(g_, ix_, n.inputs[1]) ? 0 : 1);
      q_scale = scalar_const(g_, ix_, n.inputs[1 - chain]);
      if (!q_scale) return false;
      q_scale_op = div ? "div" : "mul";
      dead_.insert(p);
      p = absorbable(n.inputs[chain]);
      if (p < 0) return false;
    }
    if (!has_perm(g_.nodes[p], {0, 2, 1, 3}) || !from_reshape(g_.nodes[p].inputs[0])) return false;
    dead_.insert(p);
    std::string q4 = g_.nodes[p].inputs[0];

    // K side: Transpose 0231 <- Reshape output (token-major), or Transpose 0132 of a [b, H, t, D]
    // value (head-major: a KV cache's Concat, an encoder's key fed to a decoder step).
    p = absorbable(qk.inputs[1]);
    if (p < 0) return false;
    bool k_heads = false;
    if (has_perm(g_.nodes[p], {0, 2, 3, 1}) && from_reshape(g_.nodes[p].inputs[0])) k_heads = false;
    else if (has_perm(g_.nodes[p], {0, 1, 3, 2})) k_heads = true;
    else return false;
    dead_.insert(p);
    std::string k4 = g_.nodes[p].inputs[0];

    // Probabilities [-> Cast to float (GPT-2's, a no-op here)] -> MatMul(., V4) -> Transpose 0213.
    std::string probs = sm.outputs[0];
    if (ix_.used_only_by(probs, 1) && ix_.consumers(probs)[0] >= 0 && !taken_.count(ix_.consumers(probs)[0])) {
      const Node& c = g_.nodes[ix_.consumers(probs)[0]];
      if (is_onnx(c, "Cast") && c.attr_int("to", 0) == (int64_t)DType::F32) {
        dead_.insert(ix_.consumers(probs)[0]);
        probs = c.outputs[0];
      }
    }
    const auto& sc = ix_.consumers(probs);
    if (!ix_.used_only_by(probs, 1) || sc[0] < 0 || taken_.count(sc[0])) return false;
    const Node& pv = g_.nodes[sc[0]];
    if (!is_onnx(pv, "MatMul") || pv.inputs.size() != 2 || pv.inputs[0] != probs) return false;
    dead_.insert(sc[0]);
    // V side: Transpose 0213 <- Reshape output (token-major), or a value that is [b, H, t, Dv]
    // already (head-major: a KV cache's Concat of Transposes, a rank-4 graph input).
    std::string v4;
    bool v_heads = false;
    p = absorbable(pv.inputs[1]);
    if (p >= 0 && has_perm(g_.nodes[p], {0, 2, 1, 3}) && from_reshape(g_.nodes[p].inputs[0])) {
      dead_.insert(p);
      v4 = g_.nodes[p].inputs[0];
    } else if (head_major(pv.inputs[1])) {
      v_heads = true;
      v4 = pv.inputs[1];
    } else {
      return false;
    }
    const auto& pc = ix_.consumers(pv.outputs[0]);
    if (!ix_.used_only_by(pv.outputs[0], 1) || pc[0] < 0 || taken_.count(pc[0])) return false;
    const Node& out_t = g_.nodes[pc[0]];
    if (!has_perm(out_t, {0, 2, 1, 3})) return false;
    dead_.insert(pc[0]);

    // A tensor the score ops read must not be made by a node the fusion removes.
    for (const auto& op : ops)
      if (!op.tensor.empty() && dead_.count(ix_.producer(op.tensor))) return false;
    build(sm_i, q4, k4, v4, out_t.outputs[0], k_heads, v_heads, q_scale, q_scale_op, ops, fused);
    return true;
  }

  const std::unordered_set<int>& dead() const { return dead_; }
  const std::vector<Node>& extra_nodes() const { return extra_; }

 private:
  // The kiln:Attention node: q, k, v, then the score ops' tensors.
  void build(int sm_i, const std::string& q4, const std::string& k4, const std::string& v4, const std::string& out,
             bool k_heads, bool v_heads, std::optional<float> q_scale, const std::string& q_scale_op,
             const std::vector<ScoreOp>& ops, Node& fused) {
    const Node& sm = g_.nodes[sm_i];
    fused = Node{};
    fused.op_type = "Attention";
    fused.domain = "kiln";
    fused.name = (sm.name.empty() ? "attention_" + std::to_string(sm_i) : sm.name) + "/fused_attention";
    fused.inputs = {q4, k4, v4};
    fused.outputs = {out};
    if (k_heads) fused.attributes["k_layout"] = attr_string("bhsd");
    if (v_heads) fused.attributes["v_layout"] = attr_string("bhsd");
    if (q_scale) {
      fused.attributes["q_scale"] = attr_float(*q_scale);
      fused.attributes["q_scale_op"] = attr_string(q_scale_op);
    }
    Attribute kinds, scalars, tensors;
    kinds.kind = Attribute::Kind::Strings;
    scalars.kind = Attribute::Kind::Floats;
    tensors.kind = Attribute::Kind::Ints;
    for (const auto& op : ops) {
      kinds.strings.push_back(op.kind);
      scalars.floats.push_back(op.scalar);
      if (op.tensor.empty()) {
        tensors.ints.push_back(-1);
      } else {
        tensors.ints.push_back((int64_t)fused.inputs.size());
        fused.inputs.push_back(op.tensor);
      }
    }
    if (!ops.empty()) {
      fused.attributes["score_ops"] = kinds;
      fused.attributes["score_scalars"] = scalars;
      fused.attributes["score_inputs"] = tensors;
    }
  }

  // BART's form (transformers' BartAttention as torch.onnx.export writes it): the heads merged
  // into the batch for both products, the mask added where the scores are 4-D:
  //   q3 = Reshape(Transpose(Reshape(q * scaling, [b, s, H, D]), 0213), [b*H, s, D]); k3, v3 alike,
  //        or merged from [b, H, t, D] values (a cache's Concat, an encoder's keys as an input)
  //   p = Softmax(Reshape(mask ops(Reshape(MatMul(q3, Transpose(k3, 021)), [b, H, s, t])), [b*H, s, t]))
  //   out = Transpose(Reshape(MatMul(p, v3), [b, H, s, Dv]), 0213)
  // Every Reshape on the way must be proven (ShapeSymbols) to merge or split exactly (b, H): all
  // entries of its target but one equal the wanted sizes; the last one then follows from the
  // element count (or the unfused Reshape would fail). The sizes of k and v are taken as q's b
  // and H; the kernel checks that at run time and refuses a mismatch with a clear error.
  bool match_merged(int sm_i, int64_t axis, int qk_i, const std::vector<ScoreOp>& ops, Node& fused) {
    if (axis != -1 && axis != 2) return false;
    // Scalars anywhere (of rank <= 3 outside the 4-D part, so the scores stay 3-D); tensors only
    // between the Reshape to [b, H, s, t] and the one back, where they broadcast as in the kernel.
    std::vector<std::string> chain_targets;
    std::vector<ScoreOp> score;
    for (const auto& op : ops) {
      if (op.kind == "reshape") {
        chain_targets.push_back(op.tensor);
        continue;
      }
      bool four_d = chain_targets.size() == 1;
      if (!four_d && (!op.tensor.empty() || op.scalar_rank > 3)) return false;
      score.push_back(op);
    }
    if (chain_targets.size() != 0 && chain_targets.size() != 2) return false;
    const Node& qk = g_.nodes[qk_i];

    // Q: merged from a Transpose 0213 of a Reshape to [b, s, H, D], maybe scaled before that.
    std::string q3_target, k3_target, v3_target;
    auto qx = merged(qk.inputs[0], q3_target);
    if (!qx) return false;
    auto q4 = token_major(*qx);
    if (!q4) return false;
    std::string q_in = *q4;
    std::optional<float> q_scale;
    std::string q_scale_op;
    int r4 = free_producer(*q4);
    if (r4 < 0 || !is_onnx(g_.nodes[r4], "Reshape")) return false;
    int sc_i = free_producer(g_.nodes[r4].inputs[0]);
    if (sc_i >= 0 && (is_onnx(g_.nodes[sc_i], "Mul") || is_onnx(g_.nodes[sc_i], "Div")) &&
        g_.nodes[sc_i].inputs.size() == 2) {
      const Node& n = g_.nodes[sc_i];
      bool div = n.op_type == "Div";
      int chain = div ? 0 : (scalar_const(g_, ix_, n.inputs[1]) ? 0 : 1);
      if ((q_scale = scalar_const(g_, ix_, n.inputs[1 - chain]))) {
        // The kernel scales q itself: it reads a Reshape of the unscaled projection (a view).
        q_scale_op = div ? "div" : "mul";
        Node view;
        view.op_type = "Reshape";
        view.name = g_.nodes[r4].name + "/unscaled";
        view.inputs = {n.inputs[chain], g_.nodes[r4].inputs[1]};
        view.outputs = {*q4 + "/unscaled/" + std::to_string(sm_i)};  // one per fused node
        if (g_.nodes[r4].has_attr("allowzero")) view.attributes["allowzero"] = *g_.nodes[r4].attr("allowzero");
        q_in = view.outputs[0];
        extra_.push_back(std::move(view));
        cascade(r4, *q4);
        cascade(sc_i, n.outputs[0]);
      }
    }

    // K: Transpose 021 of the merge of a token-major Reshape output, or of a [b, H, t, D] value.
    int kt_i = free_producer(qk.inputs[1]);
    if (kt_i < 0) return false;
    cascade(kt_i, qk.inputs[1]);
    auto kx = merged(g_.nodes[kt_i].inputs[0], k3_target);
    if (!kx) return false;
    auto k4 = token_major(*kx);
    bool k_heads = !k4;
    std::string k_in = k4 ? *k4 : *kx;

    // Probabilities -> MatMul(., v3) -> Reshape [b, H, s, Dv] -> Transpose 0213.
    const Node& sm = g_.nodes[sm_i];
    int pv_i = sole_reader(sm.outputs[0]);
    if (pv_i < 0) return false;
    const Node& pv = g_.nodes[pv_i];
    if (!is_onnx(pv, "MatMul") || pv.inputs.size() != 2 || pv.inputs[0] != sm.outputs[0]) return false;
    dead_.insert(pv_i);
    auto vx = merged(pv.inputs[1], v3_target);
    if (!vx) return false;
    auto v4 = token_major(*vx);
    bool v_heads = !v4;
    std::string v_in = v4 ? *v4 : *vx;
    int split_i = sole_reader(pv.outputs[0]);
    if (split_i < 0) return false;
    const Node& split = g_.nodes[split_i];
    if (!is_onnx(split, "Reshape") || split.inputs.size() != 2 || split.inputs[0] != pv.outputs[0]) return false;
    dead_.insert(split_i);
    int out_i = sole_reader(split.outputs[0]);
    if (out_i < 0 || !has_perm(g_.nodes[out_i], {0, 2, 1, 3})) return false;
    dead_.insert(out_i);

    // The proofs: every Reshape merges or splits exactly (b, H).
    if (ss_.rank(*q4) != 4 || ss_.rank(k_in) != 4 || ss_.rank(v_in) != 4) return false;
    const SymDim B = ss_.dim(*q4, 0), S = ss_.dim(*q4, 1), H = ss_.dim(*q4, 2), D = ss_.dim(*q4, 3), BH = B * H;
    const SymDim T = ss_.dim(k_in, k_heads ? 2 : 1);
    const SymDim vT = ss_.dim(v_in, v_heads ? 2 : 1), Dv = ss_.dim(v_in, 3);
    if (!reshapes_to(q3_target, {BH, S, D}) || !reshapes_to(k3_target, {BH, T, D}) ||
        !reshapes_to(v3_target, {BH, vT, Dv}) || !reshapes_to(split.inputs[1], {B, H, S, Dv}))
      return false;
    if (!chain_targets.empty() &&
        (!reshapes_to(chain_targets[0], {B, H, S, T}) || !reshapes_to(chain_targets[1], {BH, S, T})))
      return false;

    build(sm_i, q_in, k_in, v_in, g_.nodes[out_i].outputs[0], k_heads, v_heads, q_scale, q_scale_op, score, fused);
    return true;
  }

  // Whether the Reshape target `target` gives the sizes `want`: the same length, and every entry
  // but at most one the same symbolic size (the remaining one is forced by the element count).
  bool reshapes_to(const std::string& target, const std::vector<SymDim>& want) {
    auto e = ss_.entries(target);
    if (!e || e->size() != want.size()) return false;
    size_t unproven = 0;
    for (size_t i = 0; i < want.size(); ++i)
      if (!(*e)[i] || *(*e)[i] != want[i]) ++unproven;
    return unproven <= 1;
  }

  // The producer of `v` when it is still in the graph (not fused by an earlier match).
  int free_producer(const std::string& v) {
    int p = ix_.producer(v);
    return p < 0 || taken_.count(p) ? -1 : p;
  }

  // The one node reading `v` (not a graph output), when it is free.
  int sole_reader(const std::string& v) {
    if (!ix_.used_only_by(v, 1)) return -1;
    int c = ix_.consumers(v)[0];
    return c < 0 || taken_.count(c) || dead_.count(c) ? -1 : c;
  }

  // Node p (producing v) goes too when v's only reader goes; read elsewhere, it stays (and
  // remove_dead_nodes drops it later if those readers go: the Shapes feeding dead Reshapes).
  void cascade(int p, const std::string& v) {
    if (!ix_.used_only_by(v, 1)) return;
    int c = ix_.consumers(v)[0];
    if (c >= 0 && dead_.count(c)) dead_.insert(p);
  }

  // v3 = Reshape(x, target): x (the 4-D value merged) and the target.
  std::optional<std::string> merged(const std::string& v3, std::string& target) {
    int p = free_producer(v3);
    if (p < 0 || !is_onnx(g_.nodes[p], "Reshape") || g_.nodes[p].inputs.size() != 2) return std::nullopt;
    cascade(p, v3);
    target = g_.nodes[p].inputs[1];
    return g_.nodes[p].inputs[0];
  }

  // x = Transpose(r, 0213) with r a Reshape output: r (token-major [b, s, H, D]).
  std::optional<std::string> token_major(const std::string& x) {
    int p = free_producer(x);
    if (p < 0 || !has_perm(g_.nodes[p], {0, 2, 1, 3}) || !from_reshape(g_.nodes[p].inputs[0])) return std::nullopt;
    cascade(p, x);
    return g_.nodes[p].inputs[0];
  }
  // Shape nodes reading chain value `v` that are themselves part of a mask Expand we absorb.
  size_t shape_readers(const std::string& v) {
    size_t n = 0;
    for (int c : ix_.consumers(v))
      if (c >= 0 && expand_shapes_.count(c)) ++n;
    return n;
  }

  // Which input of a binary node continues the chain: the one whose producer is not outside the
  // chain. The chain side is the one produced by a node we can still walk; the other one must not
  // be a chain value. Heuristic: the addend of an attention score is never produced by a MatMul of
  // the chain, so prefer the input that leads back to a MatMul through chain ops.
  int pick_chain(const Node& n) {
    for (int side = 0; side < 2; ++side)
      if (leads_to_product(n.inputs[side])) return side;
    return -1;
  }

  bool leads_to_product(const std::string& v) {
    std::string cur = v;
    for (int guard = 0; guard < 12; ++guard) {
      int p = ix_.producer(cur);
      if (p < 0) return false;
      const Node& n = g_.nodes[p];
      if (is_onnx(n, "MatMul")) {
        int t = ix_.producer(n.inputs[1]);
        return t >= 0 && (has_perm(g_.nodes[t], {0, 2, 3, 1}) || has_perm(g_.nodes[t], {0, 1, 3, 2}) ||
                          has_perm(g_.nodes[t], {0, 2, 1}));
      }
      if (n.op_type == "Cast" || n.op_type == "Div" || n.op_type == "Mul" || n.op_type == "Reshape") cur = n.inputs[0];
      else if (n.op_type == "Add" || n.op_type == "Where") {
        // Follow whichever side leads back; a Where's chain side is input 1 or 2.
        size_t first = n.op_type == "Where" ? 1 : 0;
        bool found = false;
        for (size_t i = first; i < n.inputs.size() && !found; ++i)
          if (leads_to_product(n.inputs[i])) found = true;
        return found;
      } else {
        return false;
      }
    }
    return false;
  }

  // A Where condition: a plain value, or Cast(to bool)(Expand(m, Shape(chain value))) whose three
  // nodes are read only here; then the condition becomes m (the kernel broadcasts and tests != 0).
  bool cond_source(std::string& cond, const std::string& chain_value) {
    int cast_i = ix_.producer(cond);
    if (cast_i < 0) return true;
    const Node& cast = g_.nodes[cast_i];
    if (!is_onnx(cast, "Cast") || cast.attr_int("to", 0) != (int64_t)DType::Bool) return true;
    int exp_i = ix_.producer(cast.inputs[0]);
    if (exp_i < 0 || !is_onnx(g_.nodes[exp_i], "Expand")) return true;
    const Node& exp = g_.nodes[exp_i];
    int shape_i = ix_.producer(exp.inputs[1]);
    if (shape_i < 0) return true;
    const Node& shape = g_.nodes[shape_i];
    if (!is_onnx(shape, "Shape") || shape.has_attr("start") || shape.has_attr("end")) return true;
    // Shape of the product or of any chain value: all are [b, H, s, t].
    if (!same_chain(shape.inputs[0], chain_value)) return true;
    if (!ix_.used_only_by(cond, 1) || !ix_.used_only_by(cast.inputs[0], 1) || !ix_.used_only_by(exp.inputs[1], 1))
      return true;
    if (taken_.count(cast_i) || taken_.count(exp_i) || taken_.count(shape_i)) return true;
    dead_.insert(cast_i);
    dead_.insert(exp_i);
    dead_.insert(shape_i);
    expand_shapes_.insert(shape_i);
    cond = exp.inputs[0];
    return true;
  }

  // Whether `a` is `b` or a value `b` derives from through chain ops (walking back from b).
  bool same_chain(const std::string& a, const std::string& b) {
    std::string cur = b;
    for (int guard = 0; guard < 8; ++guard) {
      if (cur == a) return true;
      int p = ix_.producer(cur);
      if (p < 0) return false;
      const Node& n = g_.nodes[p];
      if (is_onnx(n, "MatMul")) return false;
      if (n.op_type == "Cast" || n.op_type == "Div" || n.op_type == "Mul") cur = n.inputs[0];
      else if (n.op_type == "Add") cur = leads_to_product(n.inputs[0]) ? n.inputs[0] : n.inputs[1];
      else if (n.op_type == "Where") cur = leads_to_product(n.inputs[1]) ? n.inputs[1] : n.inputs[2];
      else return false;
    }
    return false;
  }

  // A value known to be rank 4 in [b, H, t, D] order: a graph input declared rank 4, or the Concat
  // of a cache with a Transpose 0213 (of one of those) along axis 2.
  bool head_major(const std::string& v, int depth = 0) {
    if (depth > 2) return false;
    for (const auto& in : g_.inputs)
      if (in.name == v) return in.shape && in.shape->size() == 4;
    int p = ix_.producer(v);
    if (p < 0) return false;
    const Node& n = g_.nodes[p];
    if (has_perm(n, {0, 2, 1, 3})) return true;
    if (is_onnx(n, "Concat") && (n.attr_int("axis", 0) == 2 || n.attr_int("axis", 0) == -2) && !n.inputs.empty()) {
      for (const auto& in : n.inputs)
        if (head_major(in, depth + 1)) return true;
    }
    return false;
  }

  bool from_reshape(const std::string& v) {
    int p = ix_.producer(v);
    return p >= 0 && is_onnx(g_.nodes[p], "Reshape");
  }

  const Graph& g_;
  const GraphIndex& ix_;
  const std::unordered_set<int>& taken_;
  std::unordered_set<int> dead_;
  std::unordered_set<int> expand_shapes_;
  std::vector<Node> extra_;  // nodes the match adds besides the fused one (a Reshape view of q)
  ShapeSymbols ss_{g_, ix_};
};

// Shape(Transpose(x, perm)) -> Gather(Shape(x), perm) where x is a Reshape's output (a projection
// split into heads): the same values, and the Transpose keeps only its real readers (GPT-2 reads the
// query length from the transposed query's Shape, which would otherwise keep that Transpose out of
// the fusion). The attention's output Transpose keeps its Shapes: it stays the fused node's output.
void read_shapes_before_transposes(Graph& g) {
  GraphIndex ix(g);
  std::vector<Node> added;
  for (Node& s : g.nodes) {
    if (!is_onnx(s, "Shape") || s.inputs.size() != 1 || s.outputs.size() != 1 || s.has_attr("start") ||
        s.has_attr("end"))
      continue;
    const int t = ix.producer(s.inputs[0]);
    if (t < 0 || !is_onnx(g.nodes[t], "Transpose") || !g.nodes[t].has_attr("perm") || g.nodes[t].inputs.size() != 1)
      continue;
    const int r = ix.producer(g.nodes[t].inputs[0]);
    if (r < 0 || !is_onnx(g.nodes[r], "Reshape")) continue;
    const std::vector<int64_t> perm = g.nodes[t].attr_ints("perm");
    const std::string perm_name = s.outputs[0] + "_perm";
    if (g.is_initializer(perm_name)) continue;
    g.initializers[perm_name] = Tensor::from_vector<int64_t>({(int64_t)perm.size()}, perm);
    s.inputs[0] = g.nodes[t].inputs[0];
    added.push_back(gather_shape_output(s, "_before_transpose", perm_name));
  }
  replace_nodes(g, {}, std::move(added));
}

}  // namespace

int fuse_attention(Graph& g) {
  read_shapes_before_transposes(g);
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  int fused_count = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!is_onnx(g.nodes[i], "Softmax") || dead.count((int)i)) continue;
    Matcher m(g, ix, dead);
    Node fused;
    if (!m.match((int)i, fused)) continue;
    for (int d : m.dead()) dead.insert(d);
    added.push_back(std::move(fused));
    ++fused_count;
    for (const Node& n : m.extra_nodes()) added.push_back(n);
  }
  replace_nodes(g, dead, std::move(added));
  return fused_count;
}

}  // namespace kiln
