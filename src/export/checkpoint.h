// Finding and reading the weights of a Hugging Face checkpoint folder, in transformers' order of
// preference: model.safetensors, model.safetensors.index.json (shards), pytorch_model.bin,
// pytorch_model.bin.index.json (shards). A folder with only TensorFlow or Flax weights gets an
// error saying how to convert them.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "export/weights.h"

namespace kiln::exporting {

struct CheckpointTensors {
  std::map<std::string, Tensor> tensors;  // as stored (dtypes kept; views into memory maps)
  std::string source;                     // the file (or index) read, for messages
};

// Throws IoError when the folder has no readable checkpoint or a shard is missing, BadModel when a
// file or an index is damaged or an index names a tensor its shard lacks, Unsupported for formats
// kiln does not read.
CheckpointTensors read_checkpoint(const std::filesystem::path& dir);

// The same tensors as a WeightSource (floats cast to fp32 when a builder takes them).
std::unique_ptr<WeightSource> open_checkpoint(const std::filesystem::path& dir);

}  // namespace kiln::exporting
