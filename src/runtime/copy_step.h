// The steps a plan inserts where a value crosses devices: a node kiln:Copy (never in a graph, only
// in plans) whose kernel copies its input into memory from the destination's allocator.
#pragma once
#include <memory>
#include <string>

#include "core/allocator.h"
#include "graph/graph.h"
#include "runtime/kernel.h"

namespace kiln {

// The node of a copy of value `from` into value `to`, in memory of device `dst`.
Node copy_node(const std::string& from, const std::string& to, Device dst);
// Its kernel: copies input 0 into a new tensor from `dst` (core/device_registry.h copy_to).
std::unique_ptr<OpKernel> copy_kernel(Allocator& dst);

}  // namespace kiln
