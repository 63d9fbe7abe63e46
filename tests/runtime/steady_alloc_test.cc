// Steady state: after the first runs, Session::run takes no tensor buffer of any size from the
// system (the buffer cache hands back blocks of every size), and makes no global operator new call
// at all, on the DistilBERT-shaped fixture in float and int8 at 1 and 2 threads, when the caller
// passes its output map back in (Session::run(feeds, outputs)). The plain run(feeds), which
// returns a new map, allocates that map's nodes and nothing else. See docs/performance.md.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "core/buffer.h"
#include "core/tensor_json.h"
#include "runtime/session.h"
#include "test_util.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<size_t> g_news{0}, g_new_bytes{0};

}  // namespace

// Replaced for this test binary only: counts while g_counting is set, then allocates with malloc.
// Every plain form is replaced (throwing and nothrow, single and array, every delete), so that no
// block from the library's operator new (std::get_temporary_buffer takes the nothrow one) is
// freed here: AddressSanitizer reports such a pair as alloc-dealloc-mismatch.
namespace {
void* counted_malloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_news.fetch_add(1, std::memory_order_relaxed);
    g_new_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace kiln;

namespace {

struct Counts {
  size_t blocks = 0, news = 0, new_bytes = 0;
};

// Two warm-up runs, then `runs` counted ones. `reuse`: the outputs go into one map passed back in
// each time (the caller reads them and lets them be overwritten); else the plain run(feeds), its
// returned map dropped after each run.
Counts steady_counts(const Session& s, const NamedTensors& feeds, bool reuse, int runs) {
  NamedTensors out;
  for (int r = 0; r < 2; ++r) s.run(feeds, out);
  size_t blocks0 = Buffer::fresh_blocks();
  g_news = 0;
  g_new_bytes = 0;
  g_counting = true;
  for (int r = 0; r < runs; ++r) {
    if (reuse) {
      s.run(feeds, out);
    } else {
      NamedTensors fresh = s.run(feeds);
      if (fresh.empty()) break;
    }
  }
  g_counting = false;
  return {Buffer::fresh_blocks() - blocks0, g_news.load(), g_new_bytes.load()};
}

void check(const char* model, const char* inputs, const char* what) {
  for (int threads : {1, 2}) {
    const int runs = 4;
    Session s(test::fixture(model), {.threads = threads});
    NamedTensors feeds = read_tensors_json(test::fixture(inputs));
    for (auto it = feeds.begin(); it != feeds.end();) {
      bool wanted = false;
      for (const auto& v : s.inputs()) wanted = wanted || v.name == it->first;
      it = wanted ? std::next(it) : feeds.erase(it);
    }
    Counts c = steady_counts(s, feeds, true, runs);
    std::printf("[ steady   ] %s, %d thread(s): %zu tensor blocks from the system in %d runs; %.1f operator new "
                "calls (%.0f bytes) per run\n",
                what, threads, c.blocks, runs, (double)c.news / runs, (double)c.new_bytes / runs);
    EXPECT_EQ(c.blocks, 0u) << what << ", " << threads << " thread(s)";
    EXPECT_EQ(c.news, 0u) << what << ", " << threads << " thread(s)";
    // The plain run: one node of the returned map per output (the names are short enough to be
    // kept inside std::string), nothing else.
    Counts p = steady_counts(s, feeds, false, runs);
    std::printf("[ steady   ] %s, %d thread(s), plain run(feeds): %.1f operator new calls per run\n", what, threads,
                (double)p.news / runs);
    size_t short_names = 0;
    for (const auto& v : s.outputs()) short_names += v.name.size() < 16;
    ASSERT_EQ(short_names, s.outputs().size());
    EXPECT_EQ(p.blocks, 0u);
    EXPECT_EQ(p.news, runs * s.outputs().size()) << what << ", " << threads << " thread(s)";
  }
}

TEST(SteadyAlloc, FloatDistilBertAllocatesNothingAfterWarmUp) {
  check("models/distilbert-tiny/model.onnx", "models/distilbert-tiny/ref/case0_inputs.json", "fp32");
}

TEST(SteadyAlloc, Int8DistilBertAllocatesNothingAfterWarmUp) {
  check("models/distilbert-tiny/model_quantized.onnx", "models/distilbert-tiny/ref/case1_inputs.json", "int8");
}

TEST(SteadyAlloc, CountsOperatorNew) {
  // The counter itself works (so the per-run numbers printed above mean something).
  g_news = 0;
  g_counting = true;
  int* volatile p = new int(3);
  g_counting = false;
  delete p;
  EXPECT_EQ(g_news.load(), 1u);
}

}  // namespace
