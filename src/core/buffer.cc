#include "core/buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/cpu_allocator.h"
#include "core/error.h"

namespace kiln {

namespace {

// Allocates the shared_ptr control blocks of buffers (one block: the counts and the Buffer) from
// the CPU allocator's cache of freed blocks instead of the heap.
template <typename T>
struct CachedBlocks {
  using value_type = T;
  CachedBlocks() = default;
  template <typename U>
  CachedBlocks(const CachedBlocks<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(CpuAllocator::instance().allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { CpuAllocator::instance().free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const CachedBlocks<U>&) const {
    return true;
  }
};

}  // namespace

std::shared_ptr<Buffer> Buffer::make(Allocator& from, void* data, size_t bytes) {
  try {
    return std::allocate_shared<Buffer>(CachedBlocks<Buffer>{}, from, data, bytes);
  } catch (...) {
    from.free(data, bytes);
    throw;
  }
}

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  CpuAllocator& cpu = CpuAllocator::instance();
  return make(cpu, cpu.allocate(bytes), bytes);
}

size_t Buffer::fresh_large_blocks() { return CpuAllocator::fresh_large_blocks(); }
size_t Buffer::fresh_blocks() { return CpuAllocator::fresh_blocks(); }
size_t Buffer::cached_bytes() { return CpuAllocator::instance().cached_bytes(); }
void Buffer::release_cached() { CpuAllocator::instance().release_cached(); }

std::shared_ptr<Buffer> Buffer::view(void* data, size_t bytes, std::shared_ptr<const void> owner,
                                     Device device) {
  auto b = std::make_shared<Buffer>(data, bytes, std::move(owner), device);
  b->is_view_ = true;
  return b;
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("{} is not a regular file", path));
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->size_ = (size_t)st.st_size;
  if (m->size_ > 0) {
    void* p = mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw IoError(fmt::format("cannot map {}: {}", path, std::strerror(errno)));
    }
    m->data_ = static_cast<const char*>(p);
  }
  ::close(fd);
  return m;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<char*>(data_), size_);
}

}  // namespace kiln
