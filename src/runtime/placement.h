// Node placement: a node runs on the session's device when that device has a kernel for it, else on
// the CPU (as ONNX Runtime falls back per node). Nodes holding subgraphs (If, Loop, Scan) and their
// bodies run on the CPU. The plan (runtime/plan.cc) then copies values that cross devices.
#pragma once
#include <cstdint>

#include "core/allocator.h"
#include "graph/graph.h"
#include "runtime/registry.h"

namespace kiln {

struct Placement {
  const RegisteredKernel* kernel = nullptr;  // null: no kernel on the device or the CPU
  Device device;                             // where the kernel runs
  Allocator* allocator = nullptr;            // that device's allocator; null for the CPU
  uint64_t cpu_outputs = 0;                  // a bit per output made in CPU memory (KernelDef::cpu_outputs)

  // Whether input / output k is in CPU memory for this kernel.
  bool input_on_cpu(size_t k) const;
  bool output_on_cpu(size_t k) const { return !allocator || (k < 64 && (cpu_outputs >> k & 1)); }
};

// Places node `n` (opset `opset` of its domain; input0: its first input's type when known before
// running). `device_allocator` serves the session's device; null when that is the CPU.
Placement place_node(const Node& n, int64_t opset, DType input0, Allocator* device_allocator, const KernelRegistry& reg);

}  // namespace kiln
