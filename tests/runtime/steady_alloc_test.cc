// Steady state: after the first runs, Session::run takes no tensor buffer of any size from the
// system (the buffer cache hands back blocks of every size), on the DistilBERT-shaped fixture in
// float and int8. Every global operator new in the runs is counted too and printed (shared_ptr
// control blocks of the Buffers, the plan's per-run frames and the feed/result maps): not yet zero,
// see docs/performance.md.
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

// Two warm-up runs, then `runs` counted ones; results dropped after each run, as a caller that
// reads its outputs and lets them go would.
Counts steady_counts(const std::string& model, const std::string& inputs, int threads, int runs) {
  Session s(model, {.threads = threads});
  NamedTensors feeds = read_tensors_json(inputs);
  for (auto it = feeds.begin(); it != feeds.end();) {
    bool wanted = false;
    for (const auto& v : s.inputs()) wanted = wanted || v.name == it->first;
    it = wanted ? std::next(it) : feeds.erase(it);
  }
  for (int r = 0; r < 2; ++r) s.run(feeds);
  size_t blocks0 = Buffer::fresh_blocks();
  g_news = 0;
  g_new_bytes = 0;
  g_counting = true;
  for (int r = 0; r < runs; ++r) {
    NamedTensors out = s.run(feeds);
    if (out.empty()) break;
  }
  g_counting = false;
  return {Buffer::fresh_blocks() - blocks0, g_news.load(), g_new_bytes.load()};
}

void check(const char* model, const char* inputs, const char* what) {
  for (int threads : {1, 2}) {
    const int runs = 4;
    Counts c = steady_counts(test::fixture(model), test::fixture(inputs), threads, runs);
    std::printf("[ steady   ] %s, %d thread(s): %zu tensor blocks from the system in %d runs; %.1f operator new "
                "calls (%.0f bytes) per run\n",
                what, threads, c.blocks, runs, (double)c.news / runs, (double)c.new_bytes / runs);
    EXPECT_EQ(c.blocks, 0u) << what << ", " << threads << " thread(s)";
  }
}

TEST(SteadyAlloc, FloatDistilBertTakesNoTensorBlockAfterWarmUp) {
  check("models/distilbert-tiny/model.onnx", "models/distilbert-tiny/ref/case0_inputs.json", "fp32");
}

TEST(SteadyAlloc, Int8DistilBertTakesNoTensorBlockAfterWarmUp) {
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
