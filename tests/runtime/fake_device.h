// A second device for the tests, without hardware: DeviceType::Test, index 0. Its allocator is a
// heap of its own that poisons what it hands out and what it takes back and knows every live block;
// its copies to and from the CPU check both ends; its kernels (Add, Relu, MatMul, Reshape with the
// shape read on the CPU, Shape made on the CPU) run kiln's CPU kernels on its memory after checking
// that every tensor they see is where the plan promised. Included by one test file of runtime_tests
// (the registrations below are static initialisers of that binary).
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/device_registry.h"
#include "runtime/registry.h"

namespace fake_device {

using namespace kiln;

inline constexpr Device kDevice{DeviceType::Test, 0};

class Heap final : public Allocator {
 public:
  static constexpr unsigned char kFresh = 0xA5, kFreed = 0xDD;
  Heap() : Allocator(kDevice) {}

  void* allocate(size_t bytes) override {
    const size_t n = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, n);
    if (!p) throw std::bad_alloc();
    std::memset(p, kFresh, n);  // a kernel reading what it did not write sees garbage, not zeros
    std::lock_guard<std::mutex> lock(mu_);
    blocks_[(uintptr_t)p] = n;
    ++allocations_;
    return p;
  }
  void free(void* p, size_t) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find((uintptr_t)p);
    if (it == blocks_.end()) {
      ++foreign_frees_;
      return;
    }
    std::memset(p, kFreed, it->second);
    blocks_.erase(it);
    std::free(p);
  }
  // Whether p points into a live block of this heap.
  bool owns(const void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.upper_bound((uintptr_t)p);
    if (it == blocks_.begin()) return false;
    --it;
    return (uintptr_t)p < it->first + it->second;
  }
  size_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocks_.size();
  }
  size_t allocations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return allocations_;
  }
  size_t foreign_frees() const {
    std::lock_guard<std::mutex> lock(mu_);
    return foreign_frees_;
  }

 private:
  mutable std::mutex mu_;
  std::map<uintptr_t, size_t> blocks_;
  size_t allocations_ = 0, foreign_frees_ = 0;
};

// What the device's kernels and copies saw: runs per op, copies, and every broken promise.
struct Log {
  std::mutex mu;
  std::map<std::string, int> runs;
  int copies_in = 0, copies_out = 0;
  std::vector<std::string> violations;

  void violation(std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    violations.push_back(std::move(what));
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    runs.clear();
    copies_in = copies_out = 0;
    violations.clear();
  }
};

inline Log& log() {
  static Log* l = new Log();
  return *l;
}

inline Heap& heap() {
  static Heap* h = new Heap();  // never destroyed: registered for the process
  return *h;
}

inline bool in_heap(const Tensor& t) { return t.device() == kDevice && heap().owns(t.raw()); }
inline bool in_cpu_memory(const Tensor& t) { return t.device().is_cpu() && !heap().owns(t.raw()); }

inline void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  const bool in = dst_device == kDevice;
  if (in ? !(src_device.is_cpu() && !heap().owns(src) && heap().owns(dst))
         : !(dst_device.is_cpu() && heap().owns(src) && !heap().owns(dst)))
    log().violation("a copy " + device_name(src_device) + " -> " + device_name(dst_device) +
                    " got memory of the wrong heap");
  std::memcpy(dst, src, bytes);
  std::lock_guard<std::mutex> lock(log().mu);
  ++(in ? log().copies_in : log().copies_out);
}

// Runs the CPU kernel of the node on the device's memory, checking inputs before and outputs after.
class Kernel final : public OpKernel {
 public:
  Kernel(const KernelInfo& info, std::vector<int> cpu_inputs, std::vector<int> cpu_outputs)
      : cpu_inputs_(std::move(cpu_inputs)), cpu_outputs_(std::move(cpu_outputs)) {
    const Node& n = info.node;
    const KernelRegistry& reg = KernelRegistry::global();
    const RegisteredKernel* k = reg.find(DeviceType::Cpu, n.domain, n.op_type, info.opset,
                                         info.input_types.empty() ? DType::Undefined : info.input_types[0]);
    if (!k) k = reg.find(DeviceType::Cpu, n.domain, n.op_type, info.opset);
    cpu_ = k->factory(info);  // with the constant inputs: packed weights as on the CPU
  }
  void compute(KernelContext& ctx) override {
    const std::string op = ctx.node().op_type;
    if (!(ctx.device() == kDevice)) log().violation(op + " ran with the allocator of " + device_name(ctx.device()));
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input_or_null(i);
      if (!t) continue;
      if (listed(cpu_inputs_, i) ? !in_cpu_memory(*t) : !in_heap(*t))
        log().violation(op + " input " + std::to_string(i) + " is in the wrong memory (" + device_name(t->device()) +
                        ")");
    }
    cpu_->compute(ctx);
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      const Tensor& t = ctx.output(i);
      if (!t.defined()) continue;
      if (listed(cpu_outputs_, i) ? !in_cpu_memory(t) : !in_heap(t))
        log().violation(op + " output " + std::to_string(i) + " is in the wrong memory (" + device_name(t.device()) +
                        ")");
    }
    std::lock_guard<std::mutex> lock(log().mu);
    ++log().runs[op];
  }

 private:
  static bool listed(const std::vector<int>& v, size_t i) {
    for (int k : v)
      if (k == (int)i) return true;
    return false;
  }
  std::vector<int> cpu_inputs_, cpu_outputs_;
  std::unique_ptr<OpKernel> cpu_;
};

inline void add_kernel(KernelRegistry& r, const char* op, std::vector<int> cpu_inputs = {},
                       std::vector<int> cpu_outputs = {}) {
  KernelDef def{DeviceType::Test, "", op, 1, kMaxOpset};
  def.cpu_inputs = cpu_inputs;
  def.cpu_outputs = cpu_outputs;
  r.add(def, [cpu_inputs, cpu_outputs](const KernelInfo& info) {
    return std::make_unique<Kernel>(info, cpu_inputs, cpu_outputs);
  });
}

// The device, its copies and kernels: registered when the test binary starts.
inline const bool registered = [] {
  register_allocator(heap());
  register_copy(DeviceType::Cpu, DeviceType::Test, copy);
  register_copy(DeviceType::Test, DeviceType::Cpu, copy);
  return true;
}();

KILN_REGISTER_KERNELS(register_fake_device_kernels) {
  add_kernel(r, "Add");
  add_kernel(r, "Relu");
  add_kernel(r, "MatMul");
  add_kernel(r, "Reshape", {1});
  add_kernel(r, "Shape", {}, {0});
}

}  // namespace fake_device
