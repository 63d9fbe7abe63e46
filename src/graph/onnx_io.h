// ONNX files <-> the IR. The only place that sees protobuf.
#pragma once
#include <memory>
#include <string>

#include "core/limits.h"
#include "graph/graph.h"

namespace kiln {

class SharedExternalData;  // graph/external_data.h

struct SaveOptions {
  // Store initializers in a side file (`<model file>.data` unless external_file names another).
  // Forced on when the tensors would not fit a 2 GB protobuf.
  bool external_data = false;
  std::string external_file;
  // Tensors smaller than this stay inside the .onnx file when external_data is on.
  size_t external_threshold = 1024;
  // When set, external tensors go into this file shared with other models (identical bytes stored
  // once) instead of a file of this model's own; the caller commits it before the models' renames.
  SharedExternalData* shared_data = nullptr;
  // With external data: keep the .onnx under its temporary name and return it through this
  // pointer instead of renaming (folder writers rename all files at the end).
  std::string* defer_rename = nullptr;
};

// Loads an ONNX model. Initializers with external data are memory-mapped (no copy); their
// locations must stay inside the model's folder. The file's size and its subgraphs' nesting are
// checked against `limits` (core/limits.h). Throws BadModel / IoError with a clear message.
Model load_model(const std::string& path, const LoadLimits& limits = {});
// Same from bytes in memory; external data resolves against base_dir (refused when empty).
Model load_model_from_bytes(const void* data, size_t size, const std::string& base_dir = "",
                            const LoadLimits& limits = {});

// Writes a model: to a temporary file first, renamed into place when complete.
void save_model(const Model& model, const std::string& path, const SaveOptions& options = {});
// Serialises to bytes (initializers inside; throws when over 2 GB).
std::string model_to_bytes(const Model& model);

// A single TensorProto file (the conformance tests' input_N.pb / output_N.pb).
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);

}  // namespace kiln
