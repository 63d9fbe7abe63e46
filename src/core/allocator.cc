#include "core/allocator.h"

#include "core/buffer.h"

namespace kiln {

std::shared_ptr<Buffer> Allocator::buffer(size_t bytes) { return Buffer::make(*this, allocate(bytes), bytes); }

}  // namespace kiln
