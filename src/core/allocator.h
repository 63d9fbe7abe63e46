// Where tensors' memory comes from: one Allocator per device. The CPU's is kiln's buffer cache
// (core/cpu_allocator.h); a backend for another device registers its own (core/device_registry.h),
// and a kernel placed on that device gets its outputs from it (KernelContext::allocate_output).
#pragma once
#include <cstddef>
#include <memory>

#include "kiln/tensor.h"  // Device

namespace kiln {

class Buffer;

class Allocator {
 public:
  explicit Allocator(Device device) : device_(device) {}
  virtual ~Allocator() = default;
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // The device whose memory this allocator hands out.
  Device device() const { return device_; }

  // A block of at least `bytes` bytes (contents uninitialised), aligned for every element type
  // (64 bytes); throws std::bad_alloc when the device has no memory left.
  virtual void* allocate(size_t bytes) = 0;
  // Gives back a block from allocate(bytes), with the same `bytes`.
  virtual void free(void* block, size_t bytes) noexcept = 0;

  // A buffer of `bytes` bytes from allocate(); freed through this allocator when the last tensor
  // over it is dropped. The allocator must outlive its buffers (registered ones live for the process).
  std::shared_ptr<Buffer> buffer(size_t bytes);

 private:
  Device device_;
};

}  // namespace kiln
