#include "core/allocator.h"

#include "core/buffer.h"

namespace kiln {

std::shared_ptr<Buffer> Allocator::buffer(size_t bytes) {
  void* p = allocate(bytes);
  std::shared_ptr<void> owner(p, [this, bytes](void* q) { free(q, bytes); });
  return std::make_shared<Buffer>(p, bytes, std::move(owner), device_);
}

}  // namespace kiln
