// Thread setup. kiln's kernels and oneDNN share the OpenMP pool of the thread that calls them;
// unpinned OpenMP threads stall on small shared VMs, so each pool's threads are pinned to distinct
// cores once.
//
// The thread count is per calling thread: a ThreadScope (which Session::run opens around each run)
// sets it for the kernels that thread runs, for kiln's parallel_for and for oneDNN (through OpenMP's
// per-thread nthreads setting), and puts back the previous one when it ends. Outside any scope the
// process default applies (configure_threads; the first session's count, else one per core).
#pragma once
#include <algorithm>

namespace kiln {

// Sets the process default thread count (0 = one per available core) and pins the calling
// thread's pool. Cheap to call again with the same count.
void configure_threads(int threads);
// The number of threads `requested` stands for (0 = one per available core).
int resolve_threads(int requested);
// Sets the process default as configure_threads does, unless it was set already (the first session
// made in a process sets it for what runs outside sessions, e.g. a pipeline's tokenizer).
void configure_threads_once(int threads);
// Threads the pool will use on this thread now: the innermost ThreadScope's count, else the default.
int thread_count();

// Runs this thread's kernels with `threads` threads (0 = one per available core) until destroyed.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_scope_;
  int previous_omp_;
};

// Runs f(begin, end) over [0, n) split in contiguous chunks on the pool; runs inline when the
// work is small (n * cost_per_item below a threshold) or already inside a parallel region.
template <typename F>
void parallel_for(long n, long cost_per_item, F&& f);

}  // namespace kiln

#include <omp.h>

namespace kiln {

template <typename F>
void parallel_for(long n, long cost_per_item, F&& f) {
  if (n <= 0) return;
  int threads = thread_count();
  if (threads <= 1 || n < 2 || n * cost_per_item < 32768 || omp_in_parallel()) {
    f(0L, n);
    return;
  }
  int chunks = (int)std::min<long>(threads, n);
#pragma omp parallel num_threads(chunks)
  {
    int t = omp_get_thread_num();
    long begin = n * t / chunks, end = n * (t + 1) / chunks;
    if (begin < end) f(begin, end);
  }
}

}  // namespace kiln
