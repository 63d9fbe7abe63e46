#include "core/threads.h"

#include <pthread.h>
#include <sched.h>

#include <vector>

namespace kiln {

static int g_threads = 0;

static std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

void configure_threads(int threads) {
  static std::vector<int> cpus = allowed_cpus();
  int avail = cpus.empty() ? 1 : (int)cpus.size();
  if (threads <= 0) threads = avail;
  if (threads == g_threads) return;
  g_threads = threads;
  omp_set_num_threads(threads);
  omp_set_dynamic(0);
  if (cpus.empty() || threads > avail) return;  // oversubscribed: let the OS place threads
#pragma omp parallel num_threads(threads)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[omp_get_thread_num() % cpus.size()], &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  }
}

int thread_count() {
  if (g_threads == 0) configure_threads(0);
  return g_threads;
}

}  // namespace kiln
