#include "runtime/placement.h"

#include <algorithm>

namespace kiln {

bool Placement::input_on_cpu(size_t k) const {
  if (!allocator) return true;
  const auto& in = kernel->def.cpu_inputs;
  return std::find(in.begin(), in.end(), (int)k) != in.end();
}

static bool holds_subgraphs(const Node& n) {
  for (const auto& [_, a] : n.attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

Placement place_node(const Node& n, int64_t opset, DType input0, Allocator* device_allocator, const KernelRegistry& reg) {
  Placement p;
  if (device_allocator && !holds_subgraphs(n)) {
    const Device d = device_allocator->device();
    if (const RegisteredKernel* k = reg.find(d.type, n.domain, n.op_type, opset, input0)) {
      p.kernel = k;
      p.device = d;
      p.allocator = device_allocator;
      for (int o : k->def.cpu_outputs) p.cpu_outputs |= uint64_t(1) << o;
      return p;
    }
  }
  // On the CPU a kernel constrained to other types is still taken when nothing else matches: it
  // then says which types it takes.
  p.kernel = reg.find(DeviceType::Cpu, n.domain, n.op_type, opset, input0);
  if (!p.kernel) p.kernel = reg.find(DeviceType::Cpu, n.domain, n.op_type, opset);
  return p;
}

}  // namespace kiln
