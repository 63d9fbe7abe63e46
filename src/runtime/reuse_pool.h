// ReusePool: objects one run needs (a plan's value slots, a session's input list) kept across runs
// instead of made and freed each time. take() hands out a free one (or makes one when all are in
// use, e.g. by runs on other threads); the lease gives it back when it goes. After the first runs
// the pool holds as many as ran at once, and taking and giving back allocate nothing.
#pragma once
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace kiln {

template <typename T>
class ReusePool {
 public:
  class Lease {
   public:
    Lease(ReusePool& pool, std::unique_ptr<T> item) : pool_(pool), item_(std::move(item)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give(std::move(item_)); }
    T& operator*() const { return *item_; }
    T* operator->() const { return item_.get(); }

   private:
    ReusePool& pool_;
    std::unique_ptr<T> item_;
  };

  // A free object, or make() when there is none.
  template <typename Make>
  Lease take(Make&& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        std::unique_ptr<T> item = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(item));
      }
    }
    return Lease(*this, make());
  }

 private:
  void give(std::unique_ptr<T> item) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      free_.push_back(std::move(item));
    } catch (...) {  // no memory for the list: the object is freed instead
    }
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<T>> free_;
};

}  // namespace kiln
