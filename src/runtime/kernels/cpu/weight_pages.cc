#include "runtime/kernels/cpu/weight_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace kiln::cpu {

namespace {

constexpr size_t kHuge = size_t(2) << 20;
constexpr size_t kArea = size_t(32) << 20;

struct Area {
  char* base = nullptr;  // 2 MiB aligned
  void* map = nullptr;   // what mmap returned
  size_t map_bytes = 0, size = 0, used = 0;
  size_t live = 0;  // blocks cut from it and not yet freed
};

class Arenas {
 public:
  std::shared_ptr<int8_t> allocate(size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_ || current_->used + bytes > current_->size) {
      if (current_ && current_->live == 0) release(current_);
      current_ = map_area(std::max(kArea, (bytes + kHuge - 1) / kHuge * kHuge));
    }
    Area* a = current_;
    char* p = a->base + a->used;
    a->used += bytes;
    ++a->live;
    // Fresh pages read as zeros; a block reused after its area was emptied is cleared.
    std::memset(p, 0, bytes);
    return std::shared_ptr<int8_t>(reinterpret_cast<int8_t*>(p), [this, a](int8_t*) { free(a); });
  }

 private:
  static Area* map_area(size_t size) {
    const size_t map_bytes = size + kHuge;
    void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    auto* a = new Area;
    a->map = m;
    a->map_bytes = map_bytes;
    a->base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(m) + kHuge - 1) / kHuge * kHuge);
    a->size = size;
    madvise(a->base, size, MADV_HUGEPAGE);  // advice only: without it the pages are 4 KiB
    return a;
  }
  static void release(Area* a) {
    munmap(a->map, a->map_bytes);
    delete a;
  }
  void free(Area* a) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--a->live > 0) return;
    if (a == current_) {
      a->used = 0;  // kept for the next blocks
      return;
    }
    release(a);
  }

  std::mutex mu_;
  Area* current_ = nullptr;
};

Arenas& arenas() {
  static Arenas* a = new Arenas;  // never destroyed: blocks may be freed during static destruction
  return *a;
}

}  // namespace

std::shared_ptr<int8_t> allocate_weight_bytes(size_t bytes) { return arenas().allocate(std::max<size_t>(bytes, 64)); }

}  // namespace kiln::cpu
