// Shared state of one model's quantization: unique names, the scopes of nested graphs, caches so a
// weight or an activation is quantized once however many nodes read it, and the per-op counts the
// summary reports. The op rewrites (matmul_quant.cc, gather_quant.cc) work through it.
#pragma once
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "quantize/options.h"
#include "quantize/weight_quant.h"

namespace kiln::quantize {

// Activation ranges from calibration: value name -> (min, max).
using Ranges = std::map<std::string, std::pair<float, float>>;

// GraphStats (what was quantized per graph) is public: include/kiln/quantize.h.

// A graph and the graphs around it (a subgraph reads its parents' values and initializers).
struct Scope {
  Graph* graph = nullptr;
  const Scope* parent = nullptr;
};

// The names of a quantized value: its int tensor, scale and zero point.
struct QValue {
  std::string q, scale, zero_point;
  int axis = -1;
};

class Context {
 public:
  Context(Model& model, const Options& options, const Ranges* ranges, GraphStats& stats);

  const Options& options() const { return opt_; }
  GraphStats& stats() { return stats_; }
  int64_t opset() const { return opset_; }

  // A name no value of the model has yet, built from `base`.
  std::string fresh(const std::string& base);
  // The float32 initializer `name` visible from `scope` (and the graph that owns it), or null.
  const Tensor* find_weight(const Scope& scope, const std::string& name, Graph** owner = nullptr) const;
  bool is_constant(const Scope& scope, const std::string& name) const;
  // Adds an initializer to g under a fresh name built from base; returns the name.
  std::string add_initializer(Graph& g, const std::string& base, Tensor t);

  // Quantizes a weight once per (name, variant): `variant` tells apart transformed copies (a Gemm's
  // transposed B); `w` is the tensor to quantize (already transformed). Stored in `owner`.
  QValue weight(Graph& owner, const std::string& name, const std::string& variant, const Tensor& w, DType type,
                bool symmetric, int axis);

  // An activation quantized at run time (DynamicQuantizeLinear, uint8), once per graph.
  QValue dynamic_activation(const Scope& scope, const std::string& value, std::vector<Node>& out);
  // An activation quantized with its calibrated range (QuantizeLinear), once per graph unless
  // dedicated pairs are asked for. Throws InternalError when no range was collected.
  QValue static_activation(const Scope& scope, const std::string& value, std::vector<Node>& out);
  bool has_range(const std::string& value) const { return ranges_ && ranges_->count(value); }
  std::pair<float, float> range(const std::string& value) const { return ranges_->at(value); }
  // DequantizeLinear of a quantized value (cached by q name unless `dedicated`).
  std::string dequantized(const QValue& v, const std::string& base, std::vector<Node>& out, bool dedicated = false);

  // Records a float initializer that a rewrite stopped reading (dropped at the end when unused).
  void replaced(const std::string& initializer) { replaced_.insert(initializer); }
  // Drops replaced initializers nobody reads any more.
  void sweep();

  Node make_node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                 const std::string& name_base);

 private:
  void collect_names(const Graph& g);
  Model& model_;
  const Options& opt_;
  const Ranges* ranges_;
  GraphStats& stats_;
  int64_t opset_;
  std::set<std::string> names_;
  std::map<std::string, QValue> weights_;                        // owner-ptr|name|variant -> q
  std::map<std::pair<const Graph*, std::string>, QValue> acts_;  // (graph, value) -> q
  std::map<std::string, std::string> dq_;                        // q name -> dequantized name
  std::set<std::string> replaced_;
};

}  // namespace kiln::quantize
