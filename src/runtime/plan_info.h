// What a compiled plan does, step by step, for kiln inspect --plan and the tests: each step's op,
// device, inputs and outputs, the copies between devices included.
#pragma once
#include <string>
#include <vector>

#include "kiln/tensor.h"  // Device

namespace kiln {

struct PlanStepInfo {
  std::string op;    // "Add", "com.microsoft:FusedMatMul"; "kiln:Copy" for a copy between devices
  std::string name;  // the node's name ("copy x to cuda:0" for a copy)
  Device device;     // where it runs (a copy: its destination)
  std::vector<std::string> inputs, outputs;  // value names; a copy's output is "name@device"
  bool is_copy() const { return op == "kiln:Copy"; }
};

struct PlanInfo {
  Device device;                                 // the session's device
  std::vector<PlanStepInfo> steps;               // in running order
  std::vector<std::string> constants_on_device;  // initializers copied to the device once, when planned
  size_t copies() const {
    size_t n = 0;
    for (const auto& s : steps) n += s.is_copy();
    return n;
  }
};

}  // namespace kiln
