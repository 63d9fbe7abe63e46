// Session::run from several threads at once on one session: every run's outputs equal, bit for bit,
// those of the same inputs run alone. Real fixtures (float and int8 DistilBERT, T5's decoder with
// past) so that packed weights, oneDNN primitives made on first use and the buffer cache are shared.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

constexpr int kThreads = 4, kRunsPerThread = 8;

// The fixture's inputs changed by `k`: token ids shifted (within the vocabulary), floats scaled and
// offset, so each of the N x M runs has its own inputs.
NamedTensors vary(const NamedTensors& base, int k) {
  NamedTensors out;
  for (const auto& [name, t] : base) {
    Tensor c = t.clone();
    if (name.find("input_ids") != std::string::npos) {
      int64_t* p = c.data<int64_t>();
      for (int64_t i = 0; i < c.numel(); ++i) p[i] = (p[i] + 37 * k + 5 * i) % 1024;
    } else if (c.dtype() == DType::F32) {
      float* p = c.data<float>();
      for (int64_t i = 0; i < c.numel(); ++i) p[i] = p[i] * (1.f + 0.01f * (float)k) + 0.001f * (float)(k % 5);
    }
    out[name] = c;
  }
  return out;
}

bool bitwise_equal(const NamedTensors& a, const NamedTensors& b, std::string* why) {
  if (a.size() != b.size()) return *why = "different output counts", false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end()) return *why = "missing " + name, false;
    const Tensor& u = it->second;
    if (t.dtype() != u.dtype() || t.shape() != u.shape()) return *why = name + ": type or shape differs", false;
    if (std::memcmp(t.raw(), u.raw(), t.nbytes()) != 0) return *why = name + ": bytes differ", false;
  }
  return true;
}

// Runs kThreads x kRunsPerThread different inputs concurrently on one session and compares each with
// the sequential result for the same input.
void expect_concurrent_equals_sequential(const std::string& model, const std::string& inputs, int threads) {
  SessionOptions so;
  so.threads = threads;
  Session s(model, so);
  NamedTensors base = read_tensors_json(inputs);
  const int total = kThreads * kRunsPerThread;
  std::vector<NamedTensors> feeds, sequential;
  for (int k = 0; k < total; ++k) {
    feeds.push_back(vary(base, k));
    sequential.push_back(s.run(feeds.back()));
  }
  // The inputs do matter (else equality would prove little).
  std::string why;
  ASSERT_FALSE(bitwise_equal(sequential[0], sequential[1], &why));

  std::vector<NamedTensors> concurrent(total);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      try {
        // Interleaved order so that different threads run different inputs at the same moment.
        for (int r = 0; r < kRunsPerThread; ++r) {
          int k = r * kThreads + t;
          concurrent[k] = s.run(feeds[k]);
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  for (int k = 0; k < total; ++k) EXPECT_TRUE(bitwise_equal(concurrent[k], sequential[k], &why)) << "run " << k << ": " << why;
}

// KILN_TEST_THREADS (the TSan script sets 1: see docs/architecture.md) or 2 threads per run.
int threads_per_run() {
  const char* e = std::getenv("KILN_TEST_THREADS");
  return e && *e ? std::atoi(e) : 2;
}

TEST(Concurrency, DistilBertFloat) {
  expect_concurrent_equals_sequential(test::fixture("models/distilbert-tiny/model.onnx"),
                                      test::fixture("models/distilbert-tiny/ref/case0_inputs.json"), threads_per_run());
}

TEST(Concurrency, DistilBertInt8) {
  expect_concurrent_equals_sequential(test::fixture("models/distilbert-tiny/model_quantized.onnx"),
                                      test::fixture("models/distilbert-tiny/ref/case1_inputs.json"), threads_per_run());
}

TEST(Concurrency, T5DecoderWithPast) {
  expect_concurrent_equals_sequential(test::fixture("models/t5-tiny/decoder_with_past_model.onnx"),
                                      test::fixture("models/t5-tiny/ref/decoder_with_past_inputs.json"),
                                      threads_per_run());
}

}  // namespace
