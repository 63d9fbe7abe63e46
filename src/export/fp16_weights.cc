#include "export/fp16_weights.h"

#include <cmath>

#include "core/buffer.h"

namespace kiln::exporting {

namespace {

// float16's largest finite value: a weight beyond it would become infinity.
constexpr float kHalfMax = 65504.0f;

bool fits_half(const Tensor& t) {
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!(std::fabs(p[i]) <= kHalfMax)) return false;  // also NaN
  return true;
}

std::string unused_name(const Graph& g, const std::string& base) {
  std::string name = base + "_fp16";
  for (int k = 2; g.initializers.count(name); ++k) name = base + "_fp16_" + std::to_string(k);
  return name;
}

}  // namespace

int store_weights_fp16(Graph& g) {
  int stored = 0;
  for (auto& n : g.nodes)
    for (auto& [_, a] : n.attributes) {
      if (a.g) stored += store_weights_fp16(*a.g);
      for (auto& sub : a.graphs) stored += store_weights_fp16(*sub);
    }
  std::vector<Node> casts;
  std::map<std::string, Tensor> kept;
  for (auto& [name, t] : g.initializers) {
    if (t.dtype() != DType::F32 || t.numel() < kMinFp16Elements || !fits_half(t)) {
      kept.emplace(name, std::move(t));
      continue;
    }
    std::string half = unused_name(g, name);
    kept.emplace(half, t.cast(DType::F16));
    Node cast;
    cast.name = name + "_cast";
    cast.op_type = "Cast";
    cast.inputs = {half};
    cast.outputs = {name};
    Attribute to;
    to.kind = Attribute::Kind::Int;
    to.i = (int64_t)DType::F32;
    cast.attributes["to"] = to;
    casts.push_back(std::move(cast));
    // The float32 copy goes as soon as its half is made, back to the system rather than into the
    // buffer cache (which keeps freed blocks for reuse at their size): converting a whole model
    // then never holds both forms of every weight.
    t = Tensor();
    Buffer::release_cached();
    ++stored;
  }
  g.initializers = std::move(kept);
  g.nodes.insert(g.nodes.begin(), std::make_move_iterator(casts.begin()), std::make_move_iterator(casts.end()));
  return stored;
}

}  // namespace kiln::exporting
