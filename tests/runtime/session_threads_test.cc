// SessionOptions::threads is per session: two sessions in one process, threads 1 and 2, each run
// sees its own count in OpenMP parallel regions and in kiln's parallel_for, whatever ran before.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "core/threads.h"
#include "export/graph_builder.h"
#include "runtime/registry.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

// kiln.test:OmpThreads(x) -> int64 [3]: the team size of a plain OpenMP parallel region (what
// oneDNN gets), thread_count(), and how many distinct threads a large parallel_for ran on.
void omp_threads_compute(KernelContext& ctx) {
  int team = 0;
#pragma omp parallel
  {
#pragma omp single
    team = omp_get_num_threads();
  }
  std::atomic<int> chunks{0};
  parallel_for(1 << 20, 1 << 10, [&](long, long) { chunks.fetch_add(1); });
  Tensor& y = ctx.allocate_output(0, DType::I64, {3});
  int64_t* p = y.data<int64_t>();
  p[0] = team;
  p[1] = thread_count();
  p[2] = chunks.load();
}

KILN_REGISTER_KERNELS(register_test_kernels) { r.add_fn("kiln.test", "OmpThreads", 1, kMaxOpset, omp_threads_compute); }

Model probe_model() {
  GraphBuilder b("probe");
  std::string x = b.input("x", DType::F32, {Dim{1, ""}});
  std::string y = b.op("OmpThreads", {x}, {}, "kiln.test");
  b.output(y, "threads", DType::I64, {Dim{3, ""}});
  Model m = b.finish();
  m.opsets.push_back({"kiln.test", 1});
  return m;
}

std::vector<int64_t> observed(const Session& s) {
  return s.run({{"x", Tensor::from_vector<float>({1}, {0.f})}}).at("threads").to_vector<int64_t>();
}

TEST(SessionThreads, EachSessionRunsWithItsOwnCount) {
  SessionOptions one, two;
  one.threads = 1;
  two.threads = 2;
  Session s1(probe_model(), one);
  Session s2(probe_model(), two);  // made last: it must not change s1's count
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(observed(s1), (std::vector<int64_t>{1, 1, 1}));
    EXPECT_EQ(observed(s2), (std::vector<int64_t>{2, 2, 2}));
  }
  // The same from other threads, at the same time.
  std::vector<int64_t> a, b;
  std::thread t1([&] { a = observed(s1); });
  std::thread t2([&] { b = observed(s2); });
  t1.join();
  t2.join();
  EXPECT_EQ(a, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(b, (std::vector<int64_t>{2, 2, 2}));
}

TEST(SessionThreads, RealModelGivesTheSameOutputsWithOneOrTwoThreads) {
  SessionOptions one, two;
  one.threads = 1;
  two.threads = 2;
  std::string model = test::fixture("models/distilbert-tiny/model.onnx");
  Session s1(model, one), s2(model, two);
  NamedTensors feeds = read_tensors_json(test::fixture("models/distilbert-tiny/ref/case0_inputs.json"));
  NamedTensors o1 = s1.run(feeds), o2 = s2.run(feeds);
  ASSERT_EQ(o1.size(), o2.size());
  for (const auto& [name, t] : o1) {
    const Tensor& u = o2.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    EXPECT_EQ(std::memcmp(t.raw(), u.raw(), t.nbytes()), 0) << name;
  }
}

}  // namespace
