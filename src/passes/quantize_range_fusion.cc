// DynamicQuantizeLinear reads its input twice: once for the range (min and max), once to quantize.
// When the input is made by a kernel that can note the range of what it writes while the values are
// still in registers or L1 (LayerNormalization, kiln:Attention, (kiln:/com.microsoft)
// MatMulIntegerToFloat), the producer gets one more output, [min, max] of its output, and the
// DynamicQuantizeLinear becomes kiln:DynamicQuantizeLinear(x, range), which only quantizes. Reshapes
// between the two (views: same values) are looked through. At batch 32 the first pass read about
// 260 MB per DistilBERT run from L3 or memory.
//
// The producer's attribute `range_output` names the output index of the range (LayerNormalization:
// 3, after Mean and InvStdDev; the others: 1); unused outputs before it are left unnamed.
// Session-time only (level 2), never saved.
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// The output index where a producer of this kind writes its range, or -1.
int range_index(const Node& n) {
  const std::string d = canonical_domain(n.domain);
  if (n.op_type == "LayerNormalization" && (d.empty() || d == "com.microsoft")) return 3;
  if (n.op_type == "Attention" && d == "kiln") return 1;
  if (n.op_type == "MatMulIntegerToFloat" && (d == "kiln" || d == "com.microsoft")) return 1;
  return -1;
}

}  // namespace

int fuse_dynamic_quantize_range(Graph& g) {
  GraphIndex ix(g);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].op_type != "DynamicQuantizeLinear" || !canonical_domain(g.nodes[i].domain).empty() ||
        g.nodes[i].inputs.size() != 1)
      continue;
    // Back through Reshapes to the producer of the values.
    std::string v = g.nodes[i].inputs[0];
    int p = ix.producer(v);
    while (p >= 0 && g.nodes[p].op_type == "Reshape" && canonical_domain(g.nodes[p].domain).empty() &&
           !g.nodes[p].inputs.empty()) {
      v = g.nodes[p].inputs[0];
      p = ix.producer(v);
    }
    if (p < 0) continue;
    Node& prod = g.nodes[p];
    const int idx = range_index(prod);
    if (idx < 0 || prod.outputs.empty() || prod.outputs[0] != v) continue;
    std::string range;
    if (prod.attributes.count("range_output")) {
      if (prod.attr_int("range_output", -1) != idx) continue;
      range = prod.outputs[(size_t)idx];
    } else {
      if (prod.outputs.size() > (size_t)idx && !prod.outputs[(size_t)idx].empty()) continue;
      range = v + "__range";
      prod.outputs.resize((size_t)idx + 1);
      prod.outputs[(size_t)idx] = range;
      prod.attributes["range_output"] = attr_int(idx);
    }
    Node& q = g.nodes[i];
    q.domain = "kiln";
    q.inputs.push_back(range);
    ++fused;
  }
  return fused;
}

}  // namespace kiln
