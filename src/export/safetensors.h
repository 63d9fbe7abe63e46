// Reader for the safetensors checkpoint format: u64 little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then raw little-endian
// bytes. Tensors are views into a memory map of the file (no copy).
#pragma once
#include <map>
#include <string>

#include "core/buffer.h"
#include "core/tensor.h"

namespace kiln::exporting {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Throws BadModel naming what is wrong (header size, dtype, offsets) and IoError when unreadable.
SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(std::shared_ptr<MappedFile> file, const std::string& what);

}  // namespace kiln::exporting
