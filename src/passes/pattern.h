// Helpers for fusion passes: who consumes a value, and reading constant scalars.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "graph/graph.h"

namespace kiln {

class GraphIndex {
 public:
  explicit GraphIndex(const Graph& g);
  // The node producing `value` (index into g.nodes), or -1.
  int producer(const std::string& value) const;
  // Nodes reading `value`.
  const std::vector<int>& consumers(const std::string& value) const;
  // True when only the listed number of nodes read `value` and it is not a graph output.
  bool used_only_by(const std::string& value, size_t n) const;
  // The one node reading `value` when exactly one does and it is not a graph output, else -1.
  int sole_reader(const std::string& value) const;
  // The constant's value when `value` is a one-element float initializer.
  std::optional<float> scalar(const std::string& value) const;

 private:
  const Graph& g_;
  std::unordered_map<std::string, int> producer_;
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::unordered_set<std::string> graph_outputs_;
  std::vector<int> none_;
};

// The residual Add that is the only reader of `producer`'s single output `y`: an ai.onnx Add of y and
// another non-empty tensor r, not in `dead`. Returns the Add's index and r's name; nothing when y has
// other readers, is a graph output, or its reader is anything else.
struct ResidualAdd {
  int node;
  std::string residual;
};
std::optional<ResidualAdd> sole_residual_add(const Graph& g, const GraphIndex& ix, const std::string& y,
                                             const std::unordered_set<int>& dead);

// Every node that `accepts` (single output) and whose output's only reader is a residual Add
// (sole_residual_add) takes that Add in: `attach(node, r)` adds the residual r to the node's inputs,
// the node then writes the Add's output, and the Add goes. Returns how many were absorbed.
int absorb_residual_adds(Graph& g, const std::function<bool(const Node&)>& accepts,
                         const std::function<void(Node&, const std::string&)>& attach);

// Makes `shape` (a Shape node) write its value under `out + suffix` and returns the Gather(that,
// perm_name, axis 0) node that writes `out`, its old output, with the dimensions reordered: the
// readers then see the shape of a value that is kept in another axis order.
Node gather_shape_output(Node& shape, const std::string& suffix, const std::string& perm_name);

// Removes the nodes whose indices are in `dead` and appends `added`, then re-sorts the graph;
// returns how many nodes were added (a fusion pass's count of fused groups). Nothing to do: 0.
int replace_nodes(Graph& g, const std::unordered_set<int>& dead, std::vector<Node> added);

}  // namespace kiln
