// Thread setup. kiln's kernels and oneDNN share one OpenMP pool; unpinned OpenMP threads stall on
// small shared VMs, so the pool's threads are pinned to distinct cores once.
#pragma once
#include <algorithm>

namespace kiln {

// Sets the number of OpenMP threads (0 = one per available core) and pins each to its own core.
// Cheap to call again with the same count.
void configure_threads(int threads);
// Threads the pool will use (after configure_threads).
int thread_count();

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
