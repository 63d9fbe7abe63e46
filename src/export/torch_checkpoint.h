// Reader for pytorch_model.bin as torch.save writes it since PyTorch 1.6: a zip archive holding
// <archive>/data.pkl (the pickled state dict, read by the restricted unpickler of pickle.h) and one
// entry <archive>/data/<key> per storage; and the legacy (pre-1.6) stream of pickles followed by
// the storages' bytes. Tensors are views into a memory map of the file (no copy)
// when contiguous and aligned; strided views are copied into contiguous tensors. Dtypes are kept as
// stored (CheckpointWeights casts floats to fp32 when a builder asks for a parameter).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "core/buffer.h"
#include "core/tensor.h"

namespace kiln::exporting {

// Throws BadModel for a damaged or refused file (naming `what`, the global, the tensor or the
// entry), Unsupported for the earliest (tar) format, compressed entries or big-endian data, and
// IoError when the file cannot be read.
std::map<std::string, Tensor> read_torch_checkpoint(const std::string& path);
std::map<std::string, Tensor> parse_torch_checkpoint(std::shared_ptr<MappedFile> file, const std::string& what);

}  // namespace kiln::exporting
