// The CPU's allocator: 64-byte-aligned heap blocks kept in a process-wide cache of freed blocks by
// size (64-byte multiples below 64 KiB, 4 KiB multiples above; capped by KILN_BUFFER_CACHE_MB,
// default 2048), so steady-state runs take no block from the system. Blocks of 2 MiB and more are
// 2 MiB-aligned and advised onto transparent huge pages. Buffer::allocate and
// Tensor(dtype, shape) come here without a virtual call; the device registry serves it as the CPU's.
#pragma once
#include <cstddef>

#include "core/allocator.h"

namespace kiln {

class CpuAllocator final : public Allocator {
 public:
  static CpuAllocator& instance();

  // The size a request of `bytes` is rounded to (what allocate takes and free gives back).
  static size_t rounded(size_t bytes);
  void* allocate(size_t bytes) override;
  void free(void* block, size_t bytes) noexcept override;

  // Bytes the cache holds; blocks taken from the system (not from the cache) so far, of 64 KiB and
  // more and of every size; giving the cached blocks back to the system.
  size_t cached_bytes() const;
  static size_t fresh_large_blocks();
  static size_t fresh_blocks();
  void release_cached();

 private:
  CpuAllocator() : Allocator(Device{}) {}
};

}  // namespace kiln
