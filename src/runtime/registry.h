// The kernel registry: kernels keyed by (device type, domain, op type, opset range), with an
// optional type constraint. The plan places each node on the session's device when that device has
// a matching kernel, else on the CPU (runtime/placement.h), and takes the first kernel that matches.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "runtime/kernel.h"

namespace kiln {

constexpr int64_t kMaxOpset = 1000;

struct KernelDef {
  DeviceType device = DeviceType::Cpu;
  std::string domain;  // "" = ai.onnx
  std::string op_type;
  int64_t since = 1;
  int64_t until = kMaxOpset;  // inclusive
  // Input dtypes this kernel accepts for input 0 (empty = any). Checked when the type is known.
  std::vector<DType> input0_types = {};
  // Among matching kernels the highest priority wins (a specialised kernel over a generic one).
  int priority = 0;
  // For a kernel of a device other than the CPU: the inputs it reads in CPU memory whatever its
  // device (shapes, axes, indices it needs on the host: Reshape's shape, Slice's starts), and the
  // outputs it makes in CPU memory (Shape's). The plan copies those inputs to the CPU when they come
  // from the device, and allocate_output puts those outputs on the CPU. (At most 64 outputs.)
  std::vector<int> cpu_inputs = {};
  std::vector<int> cpu_outputs = {};
  // The file whose KILN_REGISTER_KERNELS block added it, relative to src/ (set by the registry).
  std::string source = {};
};

using KernelFactory = std::function<std::unique_ptr<OpKernel>(const KernelInfo&)>;

struct RegisteredKernel {
  KernelDef def;
  KernelFactory factory;
};

class KernelRegistry {
 public:
  // The registry with every built-in kernel of every device compiled in.
  static const KernelRegistry& global();

  void add(KernelDef def, KernelFactory factory);
  // Shorthand for a stateless kernel on the CPU, ai.onnx domain unless `domain` says otherwise.
  void add_fn(const std::string& domain, const std::string& op, int64_t since, int64_t until,
              FunctionKernel::Fn fn);

  // The first matching kernel, or null. input0 is the type of the node's first input when known
  // before running (a kernel constrained to other types does not match); Undefined matches any.
  const RegisteredKernel* find(DeviceType device, const std::string& domain, const std::string& op,
                               int64_t opset, DType input0 = DType::Undefined) const;
  // True when any kernel of this op exists for some opset (to tell "unknown op" from "wrong opset").
  bool knows(const std::string& domain, const std::string& op) const;
  std::vector<KernelDef> all() const;

 private:
  std::vector<RegisteredKernel> entries_;
};

// Kernel files register themselves: at static-init time each KILN_REGISTER_KERNELS block is added
// to a list that KernelRegistry::global() runs once. (kiln's objects are linked whole, so no
// registration is dropped by the linker.)
using KernelRegistration = void (*)(KernelRegistry&);
// `file` (__FILE__) is where the block is: KernelDef::source of what it adds.
bool add_kernel_registration(KernelRegistration fn, const char* file);

#define KILN_REGISTER_KERNELS(fn)                                                       \
  static void fn(::kiln::KernelRegistry& r);                                            \
  [[maybe_unused]] static const bool fn##_registered = ::kiln::add_kernel_registration(&fn, __FILE__); \
  static void fn(::kiln::KernelRegistry& r)

}  // namespace kiln
