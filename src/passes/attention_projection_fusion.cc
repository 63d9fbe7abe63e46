// The query, key and value projections of a self-attention taken into kiln:Attention, so that each
// sequence's q, k and v are made just before its attention reads them, while they are in cache
// (runtime/kernels/cpu/attention_projections.h):
//   A -> 3 products -> Reshape [b, s, H, D] x 3 -> kiln:Attention(q, k, v, score inputs...)
//   =>  kiln:Attention("", "", "", score inputs..., A, [a_scale, a_zero_point,]
//                      then for q, k, v: B, [b_scale, b_zero_point,] bias, the Reshape's shape)
// The products are MatMulIntegerToFloat where the session's int8 products run kiln's packed kernels
// (reading A in row tiles, passes/quant_row_tiles.cc, for its VNNI kernel; A's rows as they are for its
// AMX kernel: the node's attribute row_tiles says which, 1 or 0), or float32 kiln:MatMulBias / MatMul
// (T5's, without a bias).
// Attribute `projections` is the index of A among the inputs; inputs 0-2 are left empty. The kernel
// runs the products the three nodes ran, on the same rows (row tiles included), so every value is
// the same; the Reshape's shape is applied to each product as the Reshape did. At batch 32 the
// unfused products wrote 3 x 12.6 MB a layer that attention then read back from memory
// (docs/performance.md, "Q, K and V made inside attention").
//
// Matched only where each product has a constant 2-D weight, no activation, residual or range
// output, and is read only by its Reshape, which is read only by the attention (as its q, k or v);
// all three are of one kind and share A (and its scale and zero point); and the attention reads
// token-major keys and values without a cache table. Shape nodes may also read a product whose weight
// is square (BERT's exports take the Reshape's target from them): they then read A, which has the
// product's shape. Session-time only (level 2), CPU sessions, after tile_quantized_activations;
// never saved.
#include <algorithm>

#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct Projection {
  int reshape = -1, product = -1;
  bool int8 = false;          // MatMulIntegerToFloat (else kiln:MatMulBias or MatMul)
  std::vector<int> shape_of;  // Shape nodes reading the product (a square weight: A's shape is its)
};

// The Reshape writing input `slot` of attention `att` and the product feeding it, when the chain
// matches (see the file's comment).
std::optional<Projection> projection(const Graph& g, const GraphIndex& ix, const Node& att, int att_index, size_t slot) {
  const std::string& v = att.inputs[slot];
  if (v.empty() || ix.sole_reader(v) != att_index) return std::nullopt;
  for (size_t i = 0; i < att.inputs.size(); ++i)
    if (i != slot && att.inputs[i] == v) return std::nullopt;
  const int r = ix.producer(v);
  if (r < 0) return std::nullopt;
  const Node& reshape = g.nodes[(size_t)r];
  if (reshape.op_type != "Reshape" || !canonical_domain(reshape.domain).empty() || reshape.inputs.size() != 2 ||
      reshape.inputs[1].empty() || reshape.attr_int("allowzero", 0) != 0 || reshape.outputs.size() != 1)
    return std::nullopt;
  const std::string& y = reshape.inputs[0];
  // Besides the Reshape, only Shape nodes may read the product (BERT's exports take the Reshape's
  // target from it); they are checked against the weight below.
  std::vector<int> shape_of;
  const auto& readers = ix.consumers(y);
  if (!ix.used_only_by(y, readers.size())) return std::nullopt;
  for (int c : readers) {
    if (c == r) continue;
    if (c < 0) return std::nullopt;
    const Node& sn = g.nodes[(size_t)c];
    if (sn.op_type != "Shape" || !canonical_domain(sn.domain).empty() || sn.inputs.size() != 1) return std::nullopt;
    shape_of.push_back(c);
  }
  if (std::count(readers.begin(), readers.end(), r) != 1) return std::nullopt;
  const int p = ix.producer(y);
  if (p < 0) return std::nullopt;
  const Node& mm = g.nodes[(size_t)p];
  const std::string d = canonical_domain(mm.domain);
  const bool int8 = mm.op_type == "MatMulIntegerToFloat" && (d == "kiln" || d == "com.microsoft") &&
                    mm.inputs.size() >= 4 && mm.inputs.size() <= 7;
  const bool f32 = (mm.op_type == "MatMulBias" && d == "kiln" && mm.inputs.size() == 3) ||
                   (mm.op_type == "MatMul" && d.empty() && mm.inputs.size() == 2);
  if ((!int8 && !f32) || mm.attributes.count("activation") || mm.outputs.size() != 1) return std::nullopt;
  auto b = g.initializers.find(mm.inputs[1]);
  if (b == g.initializers.end() || b->second.rank() != 2 ||
      (f32 ? b->second.dtype() != DType::F32 : b->second.dtype() != DType::U8 && b->second.dtype() != DType::I8))
    return std::nullopt;
  // A Shape of the product reads A instead, which has the same shape when the weight is square.
  if (!shape_of.empty() && b->second.dim(0) != b->second.dim(1)) return std::nullopt;
  return Projection{r, p, int8, shape_of};
}

std::string input_or_empty(const Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : std::string(); }

}  // namespace

int fuse_attention_projections(Graph& g, bool int8_products) {
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& att = g.nodes[i];
    if (att.op_type != "Attention" || canonical_domain(att.domain) != "kiln" || att.inputs.size() < 3 ||
        att.attributes.count("projections") || att.attributes.count("cache_rows") ||
        att.attr_string("k_layout", "bshd") != "bshd" || att.attr_string("v_layout", "bshd") != "bshd")
      continue;
    std::optional<Projection> pr[3];
    bool ok = true;
    for (size_t s = 0; s < 3 && ok; ++s) {
      pr[s] = projection(g, ix, att, (int)i, s);
      ok = pr[s].has_value();
    }
    if (!ok) continue;
    const Node& q = g.nodes[(size_t)pr[0]->product];
    const bool int8 = pr[0]->int8;
    if (int8 && !int8_products) continue;
    for (size_t s = 1; s < 3 && ok; ++s) {
      const Node& o = g.nodes[(size_t)pr[s]->product];
      ok = pr[s]->int8 == int8 && input_or_empty(o, 0) == input_or_empty(q, 0) &&
           (!int8 || (input_or_empty(o, 2) == input_or_empty(q, 2) && input_or_empty(o, 4) == input_or_empty(q, 4) &&
                      o.attr_int("row_tiles", 0) == q.attr_int("row_tiles", 0)));
    }
    if (!ok) continue;
    std::vector<std::string> added{input_or_empty(q, 0)};
    if (int8) {
      added.push_back(input_or_empty(q, 2));
      added.push_back(input_or_empty(q, 4));
    }
    for (size_t s = 0; s < 3; ++s) {
      const Node& mm = g.nodes[(size_t)pr[s]->product];
      // int8: B, b_scale, b_zero_point, bias; float: W, bias (absent for a plain MatMul).
      const std::vector<size_t> taken = int8 ? std::vector<size_t>{1, 3, 5, 6} : std::vector<size_t>{1, 2};
      for (size_t k : taken) added.push_back(input_or_empty(mm, k));
      added.push_back(g.nodes[(size_t)pr[s]->reshape].inputs[1]);
      for (int c : pr[s]->shape_of) g.nodes[(size_t)c].inputs[0] = input_or_empty(q, 0);
      dead.insert(pr[s]->product);
      dead.insert(pr[s]->reshape);
    }
    att.attributes["projections"] = attr_int((int64_t)att.inputs.size());
    if (int8) att.attributes["row_tiles"] = attr_int(q.attr_int("row_tiles", 0) == 1 ? 1 : 0);
    for (size_t s = 0; s < 3; ++s) att.inputs[s].clear();
    att.inputs.insert(att.inputs.end(), added.begin(), added.end());
  }
  const int fused = (int)dead.size() / 6;
  replace_nodes(g, dead, {});
  return fused;
}

}  // namespace kiln
