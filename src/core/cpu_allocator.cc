#include "core/cpu_allocator.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace kiln {

namespace {

constexpr size_t kAlignment = 64, kLargeBytes = 64 * 1024, kGranule = 4096, kHugeBytes = 2 << 20;

// Large blocks (activations, KV caches) are kept when freed and handed out again for the same
// rounded size, as ONNX Runtime's arena does: a model runs with the same sizes every time, so in
// steady state no block is allocated and no page is faulted in and zeroed by the kernel again
// (glibc would return each of these to the OS: at DistilBERT size that was ~2,300 page faults, a
// few ms, per run). Small blocks (shapes, scalars, a layer's bias-sized temporaries) are kept too,
// by their 64-byte-rounded size, so a steady-state run takes no block of any size from the system
// (tests/runtime/steady_alloc_test.cc counts them).
class BlockCache {
 public:
  BlockCache() {
    // KILN_BUFFER_CACHE_MB caps what is kept (default 2048 MB; 0 turns the cache off).
    const char* e = std::getenv("KILN_BUFFER_CACHE_MB");
    limit_ = (e ? (size_t)std::strtoull(e, nullptr, 10) : 2048) << 20;
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
  void give(void* p, size_t bytes) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + bytes <= limit_) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    } catch (...) {  // no memory for the cache's own list: give the block back instead
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
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, limit_ = 0;
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: blocks may be freed at exit
  return *c;
}

std::atomic<size_t> g_fresh_large{0}, g_fresh{0};

}  // namespace

CpuAllocator& CpuAllocator::instance() {
  static CpuAllocator* a = new CpuAllocator();  // never destroyed, as the cache
  return *a;
}

size_t CpuAllocator::rounded(size_t bytes) {
  size_t r = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (r == 0) r = kAlignment;
  if (r >= kLargeBytes) r = (r + kGranule - 1) / kGranule * kGranule;
  return r;
}

void* CpuAllocator::allocate(size_t bytes) {
  const size_t r = rounded(bytes);
  void* p = cache().take(r);
  if (!p) {
    if (r >= kHugeBytes) {
      // Large blocks on 2 MiB pages where the kernel gives them (with transparent huge pages in
      // "madvise" mode, as on the test machine, only regions that ask get them): a batch-32
      // DistilBERT run streams 50 MB activations, and on 4 KiB pages their TLB misses cost the int8
      // run 7-12 % (alternating runs with and without, docs/performance.md). Aligned to 2 MiB so the
      // block's whole pages are huge; the tail past the last whole page stays on 4 KiB pages.
      // posix_memalign: aligned_alloc wants the size to be a multiple of the alignment.
      if (posix_memalign(&p, kHugeBytes, r) != 0) p = nullptr;
      if (p) madvise(p, r / kHugeBytes * kHugeBytes, MADV_HUGEPAGE);  // advice only
    } else {
      p = std::aligned_alloc(kAlignment, r);
    }
    if (!p) throw std::bad_alloc();
    g_fresh.fetch_add(1, std::memory_order_relaxed);
    if (r >= kLargeBytes) g_fresh_large.fetch_add(1, std::memory_order_relaxed);
  }
  return p;
}

void CpuAllocator::free(void* block, size_t bytes) noexcept { cache().give(block, rounded(bytes)); }

size_t CpuAllocator::cached_bytes() const { return cache().cached(); }
size_t CpuAllocator::fresh_large_blocks() { return g_fresh_large.load(std::memory_order_relaxed); }
size_t CpuAllocator::fresh_blocks() { return g_fresh.load(std::memory_order_relaxed); }
void CpuAllocator::release_cached() { cache().trim(); }

}  // namespace kiln
