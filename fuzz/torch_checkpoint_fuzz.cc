// Random bytes as pytorch_model.bin (zip reader, restricted unpickler, storage resolution): read
// or throw a kiln error, never crash. Every tensor read is touched, so a view outside the mapped
// file shows up under ASan.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "export/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/kiln-fuzz-" + std::to_string(getpid()) + ".bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    unsigned sum = 0;
    for (const auto& [name, t] : kiln::exporting::read_torch_checkpoint(path)) {
      const unsigned char* p = static_cast<const unsigned char*>(t.raw());
      for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
    }
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const kiln::Error&) {
  }
  return 0;
}
