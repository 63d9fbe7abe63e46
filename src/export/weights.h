// Where an architecture builder gets its parameters: a checkpoint, or random initialisation
// (Hugging Face's _init_weights scheme) for benchmarks and size tests of real-size models.
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "core/tensor.h"

namespace kiln {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The parameter `name` with the given shape; throws BadModel when missing or of another shape.
  virtual Tensor get(const std::string& name, const Shape& shape) = 0;
};

class CheckpointWeights : public WeightSource {
 public:
  explicit CheckpointWeights(std::map<std::string, Tensor> tensors, std::string source)
      : tensors_(std::move(tensors)), source_(std::move(source)) {}
  Tensor get(const std::string& name, const Shape& shape) override;

 private:
  std::map<std::string, Tensor> tensors_;
  std::string source_;
};

class RandomWeights : public WeightSource {
 public:
  RandomWeights(float stddev, uint64_t seed) : stddev_(stddev), seed_(seed) {}
  // LayerNorm weights are 1, biases 0, everything else N(0, stddev). The values depend on the seed
  // and the name only, so asking twice for a name (tied or shared weights) gives the same tensor.
  Tensor get(const std::string& name, const Shape& shape) override;

 private:
  float stddev_;
  uint64_t seed_;
};

}  // namespace kiln
