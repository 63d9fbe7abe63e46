// Sizes that a graph computes from other tensors' shapes (Shape -> Gather -> Unsqueeze -> Concat,
// Mul, constants), read as symbolic products so that a pass can prove two sizes equal without
// running the graph: e.g. that a Reshape target built as [Gather(Shape(x), 0) * 4, -1, 16] merges
// exactly the batch and head dimensions of a [b, 4, s, 16] tensor whose b is also Shape(x)[0].
// Sound by construction: two sizes are "equal" only when they are the same product of the same
// run-time dimensions; anything it cannot read is unknown, never guessed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "passes/pattern.h"

namespace kiln {

// coef * d1 * d2 * ..., each d "dimension i of value v at run time" (written "v#i"), sorted.
struct SymDim {
  int64_t coef = 1;
  std::vector<std::string> atoms;

  static SymDim constant(int64_t c) { return SymDim{c, {}}; }
  static SymDim atom(const std::string& value, int64_t i);
  SymDim operator*(const SymDim& o) const;
  bool operator==(const SymDim& o) const = default;
  bool is_constant() const { return atoms.empty(); }
  std::string str() const;
};

class ShapeSymbols {
 public:
  ShapeSymbols(const Graph& g, const GraphIndex& ix) : g_(g), ix_(ix) {}

  // The entries of the integer vector (or scalar) `value`, each known or not; nullopt when not
  // even its length is known.
  std::optional<std::vector<std::optional<SymDim>>> entries(const std::string& value, int depth = 0) const;

  // Dimension i of `value`: a fixed size the graph input declares (kiln checks inputs' fixed sizes
  // when a run starts), the entry of a Reshape target that gives it (not 0 or -1), the matching
  // dimension of a Transpose's or a Concat's input, else the atom value#i.
  SymDim dim(const std::string& value, int64_t i, int depth = 0) const;

  // The rank of `value` when the graph says it (declared input, Reshape target length, Transpose).
  std::optional<int64_t> rank(const std::string& value, int depth = 0) const;

 private:
  const Graph& g_;
  const GraphIndex& ix_;
};

}  // namespace kiln
