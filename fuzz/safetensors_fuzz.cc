// Random bytes as a safetensors checkpoint: parse or throw a kiln error, never crash.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "export/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/kiln-fuzz-" + std::to_string(getpid()) + ".safetensors";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    kiln::exporting::read_safetensors(path);
  } catch (const kiln::Error&) {
  }
  return 0;
}
