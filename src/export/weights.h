// Where an architecture builder gets its parameters: a checkpoint, or random initialisation
// (Hugging Face's _init_weights scheme) for benchmarks and size tests of real-size models.
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::exporting {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The parameter `name` with the given shape; throws BadModel when missing or of another shape.
  virtual Tensor get(const std::string& name, const Shape& shape) = 0;
  // Whether the source stores a tensor under `name` (a checkpoint); a generator stores none.
  virtual bool has(const std::string& name) const { return false; }
};

// The first of `names` the source stores (a parameter and then its tied aliases, e.g.
// model.shared.weight, model.encoder.embed_tokens.weight); when it stores none of them, get(names[0])
// (a generated tensor, or the error naming the canonical parameter).
Tensor get_first_of(WeightSource& source, const std::vector<std::string>& names, const Shape& shape);

class CheckpointWeights : public WeightSource {
 public:
  explicit CheckpointWeights(std::map<std::string, Tensor> tensors, std::string source)
      : tensors_(std::move(tensors)), source_(std::move(source)) {}
  Tensor get(const std::string& name, const Shape& shape) override;
  bool has(const std::string& name) const override { return tensors_.count(name) > 0; }

 private:
  std::map<std::string, Tensor> tensors_;
  std::string source_;
};

class RandomWeights : public WeightSource {
 public:
  RandomWeights(float stddev, uint64_t seed) : stddev_(stddev), rng_(seed) {}
  // LayerNorm weights are 1, biases 0, everything else N(0, stddev). The same name gives the same
  // tensor every time, so graphs that share a parameter (an encoder-decoder's embeddings, a tied
  // lm_head, a decoder with and without cache) get one value.
  Tensor get(const std::string& name, const Shape& shape) override;

 private:
  float stddev_;
  std::mt19937_64 rng_;
  std::map<std::string, Tensor> made_;
};

}  // namespace kiln::exporting
