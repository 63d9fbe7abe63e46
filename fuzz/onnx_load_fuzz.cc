// Random bytes as an ONNX model: must load or throw a kiln error, never crash.
#include <cstddef>
#include <cstdint>

#include "graph/onnx_io.h"
#include "runtime/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::Model m = kiln::load_model_from_bytes(data, size, "");
    // Planning walks every node, attribute and subgraph too.
    kiln::find_missing_kernels(m.graph, kiln::OpsetMap::from(m), kiln::KernelRegistry::global());
  } catch (const kiln::Error&) {
  }
  return 0;
}
