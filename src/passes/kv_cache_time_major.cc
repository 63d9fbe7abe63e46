// KV caches appended in place (SessionOptions::kv_cache_in_place). A decoder step with past, as
// torch.onnx.export writes transformers' T5, BART and GPT-2, keeps each cache head-major:
//   present = Concat(past [b, H, t, D], new [b, H, n, D], axis 2)          (a graph output)
// read by kiln:Attention (k_layout / v_layout bhsd) and by Shape nodes, so every step copies the
// whole cache. Head-major, a cache cannot grow where it lies; time-major, [t, b, H, D], it grows at
// its end. So where a past input is read only by that Concat and by Shape nodes, and its present
// only by kiln:Attention (as key or value) and by Shape nodes, this pass keeps the cache
// time-major:
//   - the past input and the present output are declared [t, b, H, D] (ValueInfo::time_major);
//   - the Concat becomes kiln:KvAppend(past, new) -> present, which writes the new rows after the
//     past's in the same buffer when there is room (runtime/kernels/cpu/kv_append.cc); a new
//     made by Transpose(x, 0213) for this Concat alone is read as x ([b, n, H, D], new_layout bshd)
//     and the Transpose goes;
//   - the Attention reads that key or value with layout tbhd;
//   - each Shape of the past or present is followed by a Gather(1, 2, 0, 3) that gives the shape in
//     the declared order again, so the graph's length arithmetic (T5's position bias, masks) is
//     unchanged.
// The session also adds an optional input cache_rows, int64 [batch, past_sequence], read by every
// Attention over a time-major cache: row r's keys and values of past step t are in the cache's batch
// row cache_rows[r, t] (the steps being appended are row r's own). A beam search reorders its
// beams by rewriting this small table instead of copying the caches; left out (empty), every row
// reads its own.
// Any other reader leaves that cache as the exporter wrote it. Graphs with subgraphs (the merged
// decoder's If) are left alone: a branch may read the cache. Runs after fuse_attention.
#include <unordered_set>

#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool is_onnx(const Node& n, const char* op) { return n.op_type == op && canonical_domain(n.domain).empty(); }

bool is_full_shape(const Node& n) {
  return is_onnx(n, "Shape") && n.inputs.size() == 1 && !n.has_attr("start") && !n.has_attr("end");
}

// Concat(past, new) along the sequence axis of a rank-4 value.
bool is_cache_concat(const Node& n, const std::string& past) {
  if (!is_onnx(n, "Concat") || n.inputs.size() != 2 || n.outputs.size() != 1 || n.inputs[0] != past) return false;
  const int64_t axis = n.attr_int("axis", 0);
  return (axis == 2 || axis == -2) && n.inputs[1] != past;
}

// [b, H, t, D] -> [t, b, H, D]
void to_time_major(ValueInfo& v) {
  auto& d = *v.shape;
  d = {d[2], d[0], d[1], d[3]};
  v.time_major = true;
}

ValueInfo* find_value(std::vector<ValueInfo>& values, const std::string& name) {
  for (ValueInfo& v : values)
    if (v.name == name) return &v;
  return nullptr;
}

}  // namespace

int keep_kv_cache_time_major(Graph& g) {
  for (const Node& n : g.nodes)
    for (const auto& [_, a] : n.attributes)
      if (a.kind == Attribute::Kind::Graph || a.kind == Attribute::Kind::Graphs) return 0;
  GraphIndex ix(g);
  std::unordered_set<int> dead;
  std::vector<Node> added;
  const std::string perm_name = "kiln_time_major_to_declared";
  int count = 0;
  std::unordered_set<int> attentions;  // the Attention nodes that read a time-major cache
  const std::string rows_name = "cache_rows";
  bool rows_taken = g.is_initializer(rows_name);
  for (const ValueInfo& in : g.inputs) rows_taken = rows_taken || in.name == rows_name;
  for (const Node& n : g.nodes)
    for (const std::string& o : n.outputs) rows_taken = rows_taken || o == rows_name;
  for (ValueInfo& in : g.inputs) {
    if (!in.shape || in.shape->size() != 4 || g.is_initializer(in.name) || find_value(g.outputs, in.name)) continue;
    int concat = -1;
    std::vector<int> shapes;
    bool ok = true;
    for (int c : ix.consumers(in.name)) {
      const Node& n = g.nodes[c];
      if (is_full_shape(n)) shapes.push_back(c);
      else if (concat < 0 && is_cache_concat(n, in.name)) concat = c;
      else ok = false;
    }
    if (!ok || concat < 0) continue;
    const std::string present = g.nodes[concat].outputs[0];
    ValueInfo* out = find_value(g.outputs, present);
    if (!out || !out->shape || out->shape->size() != 4) continue;
    std::vector<std::pair<int, const char*>> readers;  // attention node, layout attribute
    for (int c : ix.consumers(present)) {
      const Node& n = g.nodes[c];
      if (is_full_shape(n)) {
        shapes.push_back(c);
        continue;
      }
      const bool attention = n.op_type == "Attention" && n.domain == "kiln";
      for (size_t i = 0; i < n.inputs.size() && ok; ++i) {
        if (n.inputs[i] != present) continue;
        const char* attr = i == 1 ? "k_layout" : i == 2 ? "v_layout" : nullptr;
        if (!attention || !attr || n.attr_string(attr, "bshd") != "bhsd") ok = false;
        else readers.emplace_back(c, attr);
      }
      ok = ok && attention;
    }
    if (!ok || readers.empty()) continue;

    // The rewrite.
    Node& cat = g.nodes[concat];
    std::string fresh = cat.inputs[1];
    std::string layout = "bhsd";
    const int t = ix.producer(fresh);
    if (t >= 0 && !dead.count(t) && is_onnx(g.nodes[t], "Transpose") && g.nodes[t].inputs.size() == 1 &&
        g.nodes[t].attr_ints("perm") == std::vector<int64_t>{0, 2, 1, 3} && ix.used_only_by(fresh, 1)) {
      fresh = g.nodes[t].inputs[0];
      layout = "bshd";
      dead.insert(t);
    }
    Node append;
    append.name = cat.name.empty() ? present + "_append" : cat.name;
    append.op_type = "KvAppend";
    append.domain = "kiln";
    append.inputs = {in.name, fresh};
    append.outputs = {present};
    append.attributes["new_layout"] = attr_string(layout);
    cat = std::move(append);
    for (auto [node, attr] : readers) {
      g.nodes[node].attributes[attr] = attr_string("tbhd");
      attentions.insert(node);
    }
    for (int s : shapes) added.push_back(gather_shape_output(g.nodes[s], "_time_major", perm_name));
    to_time_major(in);
    to_time_major(*out);
    for (const std::string& name : {in.name, present})
      if (ValueInfo* v = find_value(g.value_info, name); v && v->shape && v->shape->size() == 4) to_time_major(*v);
    ++count;
  }
  if (count == 0) return 0;
  g.initializers[perm_name] = Tensor::from_vector<int64_t>({4}, {1, 2, 0, 3});
  if (!rows_taken) {
    for (int a : attentions) {
      Node& n = g.nodes[a];
      n.attributes["cache_rows"] = attr_int((int64_t)n.inputs.size());
      n.inputs.push_back(rows_name);
    }
    ValueInfo rows;
    rows.name = rows_name;
    rows.dtype = DType::I64;
    rows.shape = std::vector<Dim>{Dim{std::nullopt, "batch_size"}, Dim{std::nullopt, "past_sequence_length"}};
    rows.optional = true;
    g.inputs.push_back(std::move(rows));
  }
  replace_nodes(g, dead, std::move(added));
  return count;
}

}  // namespace kiln
