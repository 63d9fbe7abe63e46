// Random bytes as an ONNX model: must load or throw a kiln error, never crash. Both loaders run:
// from bytes in memory, and from a file (which maps it and takes embedded weights through the wire
// pre-scan of graph/onnx_wire.h).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "graph/onnx_io.h"
#include "graph/onnx_wire.h"
#include "runtime/plan.h"

namespace {

// A file on tmpfs for load_model (it maps the file).
const std::string& scratch_path() {
  static const std::string p = "/dev/shm/kiln-onnx-fuzz-" + std::to_string(getpid()) + ".onnx";
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::Model m = kiln::load_model_from_bytes(data, size, "");
    // Planning walks every node, attribute and subgraph too.
    kiln::find_missing_kernels(m.graph, kiln::OpsetMap::from(m), kiln::KernelRegistry::global());
  } catch (const kiln::Error&) {
  }
  // The pre-scan never reports bytes outside the input.
  std::string slim;
  std::vector<kiln::RawDataSpan> spans;
  if (kiln::slim_model_bytes(reinterpret_cast<const char*>(data), size, &slim, &spans))
    for (const auto& s : spans)
      if (s.present && (s.offset > size || s.size > size - s.offset)) std::abort();
  if (FILE* f = std::fopen(scratch_path().c_str(), "wb")) {
    bool ok = std::fwrite(data, 1, size, f) == size;
    ok = std::fclose(f) == 0 && ok;
    if (ok) {
      try {
        kiln::Model m = kiln::load_model(scratch_path());
      } catch (const kiln::Error&) {
      }
    }
    std::remove(scratch_path().c_str());
  }
  return 0;
}
