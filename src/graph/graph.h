// The one in-memory IR of kiln: exporter, quantizer, passes and runtime all read and write it.
// Values are named (as in ONNX): nodes list the names of their inputs and outputs, "" marks an
// optional input or output that is absent. Initializers are Tensors (possibly views into an mmap).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace kiln {

struct Graph;

// A dimension: a fixed size, a symbolic name ("batch"), or unknown (neither set).
struct Dim {
  std::optional<int64_t> value;
  std::string symbol;
  bool is_fixed() const { return value.has_value(); }
};

// Type and shape of a graph input, output or intermediate (from ONNX ValueInfo).
struct ValueInfo {
  std::string name;
  DType dtype = DType::Undefined;
  std::optional<std::vector<Dim>> shape;  // nullopt: rank unknown
  std::string doc;
  bool is_sequence = false;  // seq(tensor) values (kept for round trip; not executed)
  // A KV cache the session keeps time-major, [t, b, H, D] (passes/kv_cache_time_major.cc); `shape`
  // is then in that order. Never read from or written to a file.
  bool time_major = false;
  // An input kiln added to the graph that a run may leave out (the KV cache's cache_rows): an empty
  // tensor of its type and rank ([0, 0]) stands in. Never read from or written to a file.
  bool optional = false;
};

struct Attribute {
  enum class Kind { Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Graphs };
  Kind kind = Kind::Int;
  float f = 0;
  int64_t i = 0;
  std::string s;
  kiln::Tensor t;
  std::shared_ptr<kiln::Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<kiln::Tensor> tensors;
  std::vector<std::shared_ptr<kiln::Graph>> graphs;
  std::string ref_attr_name;  // for function bodies (kept, not interpreted)
};

// Attributes of one kind, for passes and builders that write nodes.
Attribute attr_int(int64_t v);
Attribute attr_float(float v);
Attribute attr_string(std::string v);
Attribute attr_ints(std::vector<int64_t> v);
Attribute attr_floats(std::vector<float> v);
Attribute attr_tensor(Tensor t);

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" (= ai.onnx), "com.microsoft", ...
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;
  std::string doc;

  bool has_attr(const std::string& k) const { return attributes.count(k) > 0; }
  int64_t attr_int(const std::string& k, int64_t dflt) const;
  float attr_float(const std::string& k, float dflt) const;
  std::string attr_string(const std::string& k, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& k, std::vector<int64_t> dflt = {}) const;
  std::vector<float> attr_floats(const std::string& k, std::vector<float> dflt = {}) const;
  const Attribute* attr(const std::string& k) const;
  // "Add (domain ai.onnx)" style label with the node name, for messages.
  std::string label() const;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;  // topologically sorted once loaded
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;
  std::map<std::string, Tensor> initializers;
  std::string doc;

  bool is_initializer(const std::string& name) const { return initializers.count(name) > 0; }
  const ValueInfo* find_input(const std::string& name) const;
  const ValueInfo* find_output(const std::string& name) const;
  // Number of parameters and their bytes over all initializers (subgraphs included).
  int64_t parameter_count() const;
  int64_t parameter_bytes() const;
  // Sorts nodes so each comes after the producers of its inputs; throws BadModel on a cycle, an
  // input or output nobody produces, or a name given to two values (two inputs, two node outputs,
  // a node output over an input or initializer). Outer-scope names from enclosing graphs are listed
  // in `outer`. With `subgraphs`, the graphs in node attributes are checked and sorted too.
  void topological_sort(const std::vector<std::string>& outer = {}, bool subgraphs = false);
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
};

// A whole model: the main graph and its metadata.
struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetImport> opsets;
  std::string producer_name = "kiln";
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc;
  std::map<std::string, std::string> metadata;
  Graph graph;
  // Where the model was loaded from (its folder resolves external data); empty for in-memory.
  std::string path;

  // The opset version imported for a domain ("" and "ai.onnx" are the same), 0 when absent.
  int64_t opset(const std::string& domain) const;
  void set_opset(const std::string& domain, int64_t version);
};

// Names a (sub)graph reads without defining them itself, i.e. values of enclosing scopes, nested
// subgraphs included. Adds them to `out`.
void collect_outer_reads(const Graph& g, std::unordered_set<std::string>& out);

// Canonical domain name: "" for the default ONNX domain.
std::string canonical_domain(const std::string& d);

}  // namespace kiln
