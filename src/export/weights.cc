#include "export/weights.h"

#include <algorithm>

namespace kiln::exporting {

Tensor CheckpointWeights::get(const std::string& name, const Shape& shape) {
  auto it = tensors_.find(name);
  KILN_CHECK(it != tensors_.end(), BadModel, "{} has no parameter '{}'; is it the checkpoint of this architecture?",
             source_, name);
  KILN_CHECK(it->second.shape() == shape, BadModel, "{}: parameter '{}' has shape {} but config.json implies {}",
             source_, name, shape_str(it->second.shape()), shape_str(shape));
  return it->second.dtype() == DType::F32 ? it->second : it->second.cast(DType::F32);
}

Tensor get_first_of(WeightSource& source, const std::vector<std::string>& names, const Shape& shape) {
  for (const std::string& n : names)
    if (source.has(n)) return source.get(n, shape);
  return source.get(names.at(0), shape);
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Tensor RandomWeights::get(const std::string& name, const Shape& shape) {
  auto made = made_.find(name);
  if (made != made_.end()) {
    KILN_CHECK(made->second.shape() == shape, BadModel, "random parameter '{}' asked for as {} and as {}", name,
               shape_str(made->second.shape()), shape_str(shape));
    return made->second;
  }
  Tensor t(DType::F32, shape);
  float* p = t.data<float>();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  bool norm = lower.find("layernorm") != std::string::npos || lower.find("layer_norm") != std::string::npos ||
              lower.find("ln_") != std::string::npos;
  if (ends_with(name, ".bias")) {
    std::fill(p, p + t.numel(), 0.0f);
  } else if (norm) {
    std::fill(p, p + t.numel(), 1.0f);
  } else {
    std::normal_distribution<float> dist(0.0f, stddev_);
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng_);
  }
  made_.emplace(name, t);
  return t;
}

}  // namespace kiln::exporting
