// Random bytes as the data.pkl of a torch.save archive: a state dict or a kiln error (a refused
// global, a malformed pickle), never a crash, a hang or a leak.
#include <string>

#include "export/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::exporting::unpickle_state_dict(reinterpret_cast<const char*>(data), size, "data.pkl");
  } catch (const kiln::Error&) {
  }
  return 0;
}
