#include "core/buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace kiln {

namespace {

// Large blocks (activations, KV caches) are kept when freed and handed out again for the same
// rounded size, as ONNX Runtime's arena does: a model runs with the same sizes every time, so in
// steady state no block is allocated and no page is faulted in and zeroed by the kernel again
// (glibc would return each of these to the OS: at DistilBERT size that was ~2,300 page faults, a
// few ms, per run). Small blocks (shapes, scalars, a layer's bias-sized temporaries) are kept too,
// by their 64-byte-rounded size, so a steady-state run takes no block of any size from the system
// (tests/runtime/steady_alloc_test.cc counts them).
class BlockCache {
 public:
  static constexpr size_t kLargeBytes = 64 * 1024, kGranule = 4096;

  static BlockCache& instance() {
    static BlockCache* c = new BlockCache();  // never destroyed: blocks may be freed at exit
    return *c;
  }
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + bytes <= limit_) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }
  void trim() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }
  size_t cached() {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  BlockCache() {
    // KILN_BUFFER_CACHE_MB caps what is kept (default 2048 MB; 0 turns the cache off).
    const char* e = std::getenv("KILN_BUFFER_CACHE_MB");
    limit_ = (e ? (size_t)std::strtoull(e, nullptr, 10) : 2048) << 20;
  }
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, limit_ = 0;
};

}  // namespace

static std::atomic<size_t> g_fresh_large{0}, g_fresh{0};

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  const bool large = rounded >= BlockCache::kLargeBytes;
  if (large) rounded = (rounded + BlockCache::kGranule - 1) / BlockCache::kGranule * BlockCache::kGranule;
  void* p = BlockCache::instance().take(rounded);
  if (!p) {
    p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
    g_fresh.fetch_add(1, std::memory_order_relaxed);
    if (large) g_fresh_large.fetch_add(1, std::memory_order_relaxed);
  }
  std::shared_ptr<void> owner(p, [rounded](void* q) { BlockCache::instance().give(q, rounded); });
  return std::make_shared<Buffer>(p, bytes, std::move(owner), Device{});
}

size_t Buffer::fresh_large_blocks() { return g_fresh_large.load(std::memory_order_relaxed); }
size_t Buffer::fresh_blocks() { return g_fresh.load(std::memory_order_relaxed); }
size_t Buffer::cached_bytes() { return BlockCache::instance().cached(); }
void Buffer::release_cached() { BlockCache::instance().trim(); }

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
