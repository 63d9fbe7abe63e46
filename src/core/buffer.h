// Memory that tensors point into: a 64-byte-aligned block from a device's allocator (the CPU heap
// unless a backend says otherwise), or a view into memory owned by something else (an mmap of a
// model file, a protobuf's bytes) that the buffer keeps alive. A buffer knows its device.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/allocator.h"
#include "kiln/tensor.h"  // Device

namespace kiln {

class Buffer {
 public:
  static constexpr size_t kAlignment = 64;

  // A new aligned CPU heap block (contents uninitialised) from the CPU allocator's cache of freed
  // blocks (core/cpu_allocator.h), so steady-state runs allocate nothing. Another device's memory
  // comes from its Allocator (Allocator::buffer).
  static std::shared_ptr<Buffer> allocate(size_t bytes);
  // Bytes held by that cache, and a way to give them back to the system.
  static size_t cached_bytes();
  // How many blocks of 64 KiB and more were taken from the system (not from the cache) so far.
  static size_t fresh_large_blocks();
  // The same for blocks of every size.
  static size_t fresh_blocks();
  static void release_cached();
  // A view of `bytes` at `data`, valid while `owner` lives; nothing is copied.
  static std::shared_ptr<Buffer> view(void* data, size_t bytes, std::shared_ptr<const void> owner,
                                      Device device = {});

  Buffer(void* data, size_t bytes, std::shared_ptr<const void> owner, Device device)
      : data_(data), size_(bytes), owner_(std::move(owner)), device_(device) {}
  // A block `data` of `bytes` from `from`, given back to it when the buffer goes (no owner object,
  // so a buffer is one allocation: its shared_ptr's, from the CPU block cache, see make()).
  Buffer(Allocator& from, void* data, size_t bytes) : data_(data), size_(bytes), device_(from.device()), from_(&from) {}
  ~Buffer() {
    if (from_) from_->free(data_, size_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // A shared buffer over a block of `from`; the shared_ptr's control block (with the Buffer in it)
  // comes from the CPU block cache too, so in steady state making a tensor takes nothing from the
  // heap.
  static std::shared_ptr<Buffer> make(Allocator& from, void* data, size_t bytes);

  void* data() const { return data_; }
  size_t size() const { return size_; }
  Device device() const { return device_; }
  // True when the bytes belong to something else (an mmap'd file): writing to them is not allowed.
  bool is_view() const { return is_view_; }

  // Growing in place, for a value appended to run after run (a KV cache, kiln:KvAppend): a buffer
  // made with room to spare records where its used bytes end (set_used_end); try_extend(from, to)
  // then claims [from, to) for a writer, and succeeds only when the used bytes end exactly at `from`
  // (nobody has written past the tensor that ends there) and `to` fits. Every other buffer refuses.
  // Claims are atomic, so two runs that extend the same tensor at once get one success between them.
  void set_used_end(size_t end) { used_end_.store(end, std::memory_order_release); }
  bool try_extend(size_t from, size_t to) {
    if (to > size_ || from > to || is_view_ || owner_) return false;
    return used_end_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
  }

 private:
  void* data_;
  size_t size_;
  std::shared_ptr<const void> owner_;
  Device device_;
  Allocator* from_ = nullptr;
  bool is_view_ = false;
  std::atomic<size_t> used_end_{SIZE_MAX};  // SIZE_MAX: not a growable buffer
};

// A read-only memory map of a whole file; throws IoError when it cannot be opened.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln
