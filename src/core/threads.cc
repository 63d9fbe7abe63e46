#include "core/threads.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace kiln {

static std::atomic<int> g_threads{0};  // process default; 0 = not configured yet
static thread_local int t_scope_threads = 0;  // innermost ThreadScope on this thread; 0 = none
static thread_local int t_pinned = 0;         // this thread's pool is pinned for this many threads
static thread_local int t_pin_base = -1;      // first core (index into allowed_cpus) of this thread's pool
static std::atomic<int> g_next_base{0};       // pools of different calling threads start on different cores

static const std::vector<int>& allowed_cpus() {
  static const std::vector<int> cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> c;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &set)) c.push_back(i);
    return c;
  }();
  return cpus;
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const auto& cpus = allowed_cpus();
  return cpus.empty() ? 1 : (int)cpus.size();
}

// Pins the calling thread's OpenMP pool (threads 0..n-1) to distinct cores, once per size. Pools of
// different calling threads start at different cores, so concurrent runs do not share one core.
static void pin_pool(int n) {
  const auto& cpus = allowed_cpus();
  if (n <= t_pinned || cpus.empty() || n > (int)cpus.size() || omp_in_parallel()) return;
  if (t_pin_base < 0) t_pin_base = g_next_base.fetch_add(n) % (int)cpus.size();
  int base = t_pin_base;
#pragma omp parallel num_threads(n)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[(base + omp_get_thread_num()) % cpus.size()], &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  }
  t_pinned = n;
}

void configure_threads(int threads) {
  threads = resolve_threads(threads);
  g_threads.store(threads);
  omp_set_num_threads(threads);
  omp_set_dynamic(0);
  pin_pool(threads);
}

void configure_threads_once(int threads) {
  static std::once_flag once;
  std::call_once(once, [&] {
    if (g_threads.load() == 0) configure_threads(threads);
  });
}

int thread_count() {
  if (t_scope_threads > 0) return t_scope_threads;
  int t = g_threads.load();
  if (t == 0) {
    configure_threads(0);
    t = g_threads.load();
  }
  return t;
}

ThreadScope::ThreadScope(int threads) : previous_scope_(t_scope_threads), previous_omp_(omp_get_max_threads()) {
  int n = resolve_threads(threads);
  t_scope_threads = n;
  omp_set_dynamic(0);
  omp_set_num_threads(n);
  pin_pool(n);
}

ThreadScope::~ThreadScope() {
  t_scope_threads = previous_scope_;
  omp_set_num_threads(previous_omp_);
}

}  // namespace kiln
