// Random bytes as a tensor JSON file (kiln exec --inputs): parse or throw a kiln error.
#include <string>

#include "core/tensor_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::parse_tensors_json(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const kiln::Error&) {
  }
  return 0;
}
