// What the search loops need from a model: feed tokens, get next-token logits, keep or reorder
// rows. Implemented over ONNX graphs with a KV cache (decoder.h) and by toy models in tests.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace kiln::gen {

class StepModel {
 public:
  virtual ~StepModel() = default;
  // Feeds the next tokens of every row (the same count per row; the first call feeds the start
  // ids) and returns the logits of each row's last position, rows x vocab_size(), row-major: the
  // model's own memory, which the caller may change, valid until the next step() or select().
  virtual std::span<float> step(const std::vector<std::vector<int64_t>>& tokens) = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t rows() const = 0;
  // Row i becomes old row rows[i]: reorders beams, repeats an input for its beams.
  virtual void select(const std::vector<int64_t>& rows) = 0;
};

}  // namespace kiln::gen
