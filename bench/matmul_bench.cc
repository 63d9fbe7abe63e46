// How close kiln's float32 and int8 matrix products come to this CPU's peak, on DistilBERT-base's
// shapes (128 tokens: [128, 768] x [768, 768], x [768, 3072], [128, 3072] x [3072, 768]).
//
// The peak is measured in the same run (a loop of independent FMAs on the widest vectors this CPU
// has), so the ratio means something on a shared, noisy machine. Run:
//   KILN_BENCH_THREADS=1 build/bench/matmul_bench
// On a busy machine wall times include preemption; ONEDNN_VERBOSE=1 prints each product's own time
// (take the minimum), or the CPU time column on one thread; --benchmark_repetitions=N adds each
// case's fastest repetition ("_min"). Measured here (Dec 2026, 1 thread, CPU time, busy machine):
// the FMA loop 175 GFLOP/s (two 512-bit FMAs per cycle); [128,768]x[768,768] f32 packed 0.95 ms =
// 159 GFLOP/s with kiln's kernel (sgemm_packed.h), about the same with oneDNN 2.6 (args ...,1,0).
// (Before December the FMA loop's chains started equal, the compiler merged them, and it reported
// 220-290 GFLOP/s, so products looked like half of the peak.)
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>

#include "core/threads.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/isa.h"
#include "runtime/kernels/cpu/quant_gemm.h"
#include "runtime/kernels/cpu/row_tiles.h"
#include "runtime/kernels/cpu/value_range.h"
#include "runtime/kernels/cpu/attention_gemm.h"
#include "runtime/kernels/cpu/vec_math.h"

using namespace kiln;
using namespace kiln::cpu;

namespace {

int bench_threads() {
  const char* e = std::getenv("KILN_BENCH_THREADS");
  return e ? std::atoi(e) : 2;
}

// 12 independent FMA chains in registers (enough to cover FMA latency on current cores).
#define KILN_FMA12(FMA)                                                                                   \
  a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c); a4 = FMA(a4, m, c);   \
  a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c); a8 = FMA(a8, m, c); a9 = FMA(a9, m, c);   \
  a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);

__attribute__((target("avx512f"))) double fma_loop_avx512(long iters) {
  // Distinct starting values: from equal ones the compiler computes one chain and copies it (the loop
  // then ran one FMA per iteration and the "peak" came out 1.6x too high).
  __m512 a0 = _mm512_set1_ps(1.f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f), a3 = _mm512_set1_ps(1.03f),
         a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f), a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f),
         a8 = _mm512_set1_ps(1.08f), a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
    KILN_FMA12(_mm512_fmadd_ps)
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  benchmark::DoNotOptimize(s);
  return 12.0 * 32 * iters;
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(long iters) {
  __m256 a0 = _mm256_set1_ps(1.f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f), a3 = _mm256_set1_ps(1.03f),
         a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f), a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f),
         a8 = _mm256_set1_ps(1.08f), a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
    KILN_FMA12(_mm256_fmadd_ps)
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  benchmark::DoNotOptimize(s);
  return 12.0 * 16 * iters;
}

// 12 independent vpdpbusd chains (u8 x s8, 64 products a vector): the int8 products' ceiling.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) double vnni_loop(long iters) {
  __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2), a3 = _mm512_set1_epi32(3),
          a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5), a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7),
          a8 = _mm512_set1_epi32(8), a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
  const __m512i m = _mm512_set1_epi32(0x01020304), c = _mm512_set1_epi32(0x01010101);
  // In asm: GCC 12 copies each accumulator around the intrinsic (a vmovdqa per vpdpbusd), and the
  // copies alone held the loop to ~75 % of the peak.
#define KILN_DPBUSD(acc, x, y) ({ __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(y)); acc; })
  for (long it = 0; it < iters; ++it) {
    KILN_FMA12(KILN_DPBUSD)
  }
#undef KILN_DPBUSD
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                               _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
  benchmark::DoNotOptimize(s);
  return 12.0 * 128 * iters;  // 64 multiply-adds a vector
}

// OP/s of AVX512-VNNI on all bench threads (where the CPU has it): what kiln's int8 kernel and
// ONNX Runtime's MLAS both run on, so a product's OP/s over this is the fraction of the peak.
void BM_PeakVnni(benchmark::State& state) {
  configure_threads(bench_threads());
  if (!avx512_vnni_active()) {
    state.SkipWithError("no AVX512-VNNI on this CPU");
    return;
  }
  double ops = 0;
  for (auto _ : state) {
    double f = 0;
#pragma omp parallel reduction(+ : f)
    f += vnni_loop(1 << 20);
    ops += f;
  }
  state.counters["OP/s"] = benchmark::Counter(ops, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PeakVnni)->UseRealTime()->Unit(benchmark::kMillisecond);

// FLOP/s of the FMA units on all bench threads.
void BM_PeakFma(benchmark::State& state) {
  configure_threads(bench_threads());
  bool avx512 = isa_supported(Isa::Avx512);
  double flops = 0;
  for (auto _ : state) {
    double f = 0;
#pragma omp parallel reduction(+ : f)
    f += avx512 ? fma_loop_avx512(1 << 20) : fma_loop_avx2(1 << 20);
    flops += f;
  }
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  state.SetLabel(avx512 ? "avx512 fma" : "avx2 fma");
}
BENCHMARK(BM_PeakFma)->UseRealTime()->Unit(benchmark::kMillisecond);

__attribute__((target("avx2"))) double read_sum_avx2(const float* p, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

// Bytes per second the bench threads read from memory (256 MB, far past the caches, each thread its
// own part): the ceiling of a product that reads each weight once, as a decoder step at batch 1 does
// (T5-small: 154 MB of float weights a step).
void BM_ReadBandwidth(benchmark::State& state) {
  configure_threads(bench_threads());
  const size_t n = (size_t)64 << 20;
  auto buf = Buffer::allocate(n * sizeof(float));
  float* p = static_cast<float*>(buf->data());
  std::fill(p, p + n, 1.f);
  for (auto _ : state) {
    double sum = 0;
#pragma omp parallel reduction(+ : sum)
    {
      const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
      const size_t lo = n * t / nt / 32 * 32, hi = n * (t + 1) / nt / 32 * 32;
      sum += read_sum_avx2(p + lo, hi - lo);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["bytes/s"] = benchmark::Counter((double)n * sizeof(float) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);

std::vector<float> random_floats(int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = u(rng);
  return v;
}

// args: M, K, N, packed (constant weights re-laid out once), kiln's own kernel allowed (packed only:
// sgemm_packed.h on AVX-512 CPUs; 0 = oneDNN)
void BM_MatMulF32(benchmark::State& state) {
  configure_threads(bench_threads());
  int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  bool packed = state.range(3) != 0;
  auto a = random_floats(M * K), c = std::vector<float>((size_t)(M * N));
  Tensor b = Tensor::from_vector<float>({K, N}, random_floats(K * N));
  DnnlMatMul mm(dnnl::memory::data_type::f32, dnnl::memory::data_type::f32, dnnl::memory::data_type::f32);
  mm.allow_own_kernel(state.range(4) != 0);
  if (packed) mm.pack_b(b, K, N, false, M);
  state.SetLabel(mm.own_kernel() ? "kiln kernel" : "oneDNN");
  MatMulShape s{1, M, K, N};
  for (auto _ : state) mm.run(s, a.data(), packed ? nullptr : b.data<float>(), c.data());
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * M * K * N * state.iterations(), benchmark::Counter::kIsRate);
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->Args({1024, 1024, 1024, 1, 0});  // a large square product, for the library's best case
  b->Args({1, 512, 512, 1, 1});        // a decoder step's, hot: the per-call cost beside the weights' read
  for (int64_t m : {128, 4096}) {
    for (int own : {1, 0}) {
      b->Args({m, 768, 768, 1, own});
      b->Args({m, 768, 3072, 1, own});
      b->Args({m, 3072, 768, 1, own});
    }
  }
  b->Args({128, 768, 768, 0, 0});
  b->Args({128, 768, 3072, 0, 0});
  b->Args({128, 3072, 768, 0, 0});
}
// The fastest repetition too (--benchmark_repetitions=N): on a shared machine the minimum is the
// figure least disturbed by other processes.
double fastest(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
BENCHMARK(BM_MatMulF32)->Apply(Shapes)->UseRealTime()->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", fastest);

// The same float product with weights that are not in cache, as in a whole model's run (DistilBERT-base's
// float weights are 170 MB, read once per run at batch 1): one product per iteration, cycling through
// 256 MB of distinct B matrices. args: M, K, N, kiln's own kernel allowed.
void BM_MatMulF32ColdB(benchmark::State& state) {
  configure_threads(bench_threads());
  int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  auto a = random_floats(M * K), c = std::vector<float>((size_t)(M * N));
  const int64_t copies = std::max<int64_t>(2, (256 << 20) / (K * N * 4));
  std::vector<std::unique_ptr<DnnlMatMul>> mms;
  Tensor b = Tensor::from_vector<float>({K, N}, random_floats(K * N));
  for (int64_t i = 0; i < copies; ++i) {
    mms.push_back(std::make_unique<DnnlMatMul>(dnnl::memory::data_type::f32, dnnl::memory::data_type::f32,
                                               dnnl::memory::data_type::f32));
    mms.back()->allow_own_kernel(state.range(3) != 0);
    mms.back()->pack_b(b, K, N, false, M);
  }
  state.SetLabel(mms[0]->own_kernel() ? "kiln kernel" : "oneDNN");
  MatMulShape s{1, M, K, N};
  int64_t i = 0;
  for (auto _ : state) {
    mms[i]->run(s, a.data(), nullptr, c.data());
    i = (i + 1) % copies;
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * M * K * N * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MatMulF32ColdB)
    // A decoder step's products (T5-small, batch 1 and 8: attention 512 x 512, the vocabulary 512 x 32128).
    ->Args({1, 512, 512, 1})
    ->Args({1, 512, 512, 0})
    ->Args({1, 512, 2048, 1})
    ->Args({1, 2048, 512, 1})
    ->Args({1, 512, 32128, 1})
    ->Args({8, 512, 512, 1})
    ->Args({8, 512, 512, 0})
    ->Args({8, 512, 32128, 1})
    ->Args({8, 512, 32128, 0})
    ->Args({128, 768, 768, 1})
    ->Args({128, 768, 3072, 1})
    ->Args({128, 3072, 768, 1})
    ->Args({128, 768, 768, 0})
    ->Args({128, 768, 3072, 0})
    ->Args({128, 3072, 768, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->ComputeStatistics("min", fastest);

std::vector<uint8_t> row_tiles_of(const std::vector<uint8_t>& a, int64_t M, int64_t K) {
  std::vector<uint8_t> t(a.size());
  to_row_tiles(a.data(), M, K, t.data());
  return t;
}

// The u8 x s8 product with a constant B and the float epilogue (what DynamicQuantizeMatMul runs),
// through kiln's default path (its own VNNI kernel where the CPU has VNNI) and through oneDNN.
void int8_product(benchmark::State& state, Int8Path path) {
  configure_threads(bench_threads());
  int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::vector<uint8_t> a((size_t)(M * K));
  std::mt19937 rng(2);
  for (auto& x : a) x = (uint8_t)rng();
  Tensor b(DType::I8, {K, N});
  for (int64_t i = 0; i < K * N; ++i) b.data<int8_t>()[i] = (int8_t)rng();
  Int8Gemm g(path);
  g.set_constant_b(b, K, N);
  std::vector<float> y((size_t)(M * N)), scale{0.01f};
  std::vector<int32_t> za{128}, zb;
  std::vector<float> bias((size_t)N, 0.25f);
  const bool gelu = state.range(3) != 0;  // the FFN's first product: bias and GELU in the epilogue
  // a_scale * b_scale * |sum| of about 1-3 for random bytes over K = 768: activations the size of a real FFN's
  // (with larger ones GELU's exp(-x^2 / 2) goes subnormal and costs microcode assists).
  Dequant dq{0.0007f, scale.data(), 1, gelu ? bias.data() : nullptr, gelu};
  // A as a session passes it: in row tiles when the kernel reads them (passes/quant_row_tiles.cc).
  dq.a_row_tiles = g.takes_row_tiles(K, N, false);
  if (dq.a_row_tiles) a = row_tiles_of(a, M, K);
  for (auto _ : state) g.run_float(M, K, N, a.data(), false, za, nullptr, true, zb, dq, y.data());
  state.counters["OP/s"] = benchmark::Counter(2.0 * M * K * N * state.iterations(), benchmark::Counter::kIsRate);
  const char* names[] = {"kiln VNNI kernel", "kiln AMX kernel", "oneDNN int8", "oneDNN f32 fallback", "reference"};
  state.SetLabel(names[(int)path]);
}
void BM_MatMulInt8(benchmark::State& state) { int8_product(state, default_int8_path()); }
// kiln's VNNI kernel where the default is its AMX kernel, to compare the two.
void BM_MatMulInt8Vnni(benchmark::State& state) {
  if (!vnni_gemm_supported()) return state.SkipWithError("needs AVX512-VNNI");
  int8_product(state, Int8Path::Vnni);
}
void BM_MatMulInt8OneDnn(benchmark::State& state) {
  int8_product(state, cpu_features().avx512vnni ? Int8Path::DnnlInt8 : Int8Path::DnnlF32);
}
// The same product with weights that are not in cache, as in a whole model's run (DistilBERT-base's
// int8 weights are 43 MB, read once per run): one product per iteration, cycling through 64 MB of
// distinct B matrices. Args: M, K, N, GELU (with the output range folded in), outputs written in
// turn (64-byte aligned, as a session's are), and 1 to quantize each output into row tiles after
// its product (what the FFN's kiln:DynamicQuantizeLinear does next; the difference is its cost).
void BM_MatMulInt8ColdB(benchmark::State& state) {
  configure_threads(bench_threads());
  int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::vector<uint8_t> a((size_t)(M * K));
  std::mt19937 rng(2);
  for (auto& x : a) x = (uint8_t)rng();
  const int64_t copies = std::max<int64_t>(2, (64 << 20) / (K * N));
  std::vector<std::unique_ptr<Int8Gemm>> gs;
  for (int64_t c = 0; c < copies; ++c) {
    Tensor b(DType::I8, {K, N});
    for (int64_t i = 0; i < K * N; ++i) b.data<int8_t>()[i] = (int8_t)rng();
    gs.push_back(std::make_unique<Int8Gemm>(default_int8_path()));
    gs.back()->set_constant_b(b, K, N);
  }
  std::vector<float> scale{0.01f}, bias((size_t)N, 0.25f);
  std::vector<int32_t> za{128}, zb;
  const bool gelu = state.range(3) != 0;
  // a_scale * b_scale * |sum| of about 1-3 for random bytes over K = 768: activations the size of a real FFN's
  // (with larger ones GELU's exp(-x^2 / 2) goes subnormal and costs microcode assists).
  Dequant dq{0.0007f, scale.data(), 1, gelu ? bias.data() : nullptr, gelu};
  // The FFN's first product also folds in the range of its outputs for the quantizer that follows it
  // (passes/quantize_range_fusion.cc), as in a quantized model.
  ValueRange range;
  if (gelu) dq.range = &range;
  dq.a_row_tiles = gs[0]->takes_row_tiles(K, N, false);
  if (dq.a_row_tiles) a = row_tiles_of(a, M, K);
  int64_t c = 0;
  // state.range(4) outputs written in turn: with 16 (24 MB at 128 x 3072) each is out of L2 when it is
  // written again, as a model's are (the FFN's output block was last written a layer earlier).
  const int64_t nys = state.range(4);
  std::vector<std::vector<float>> ys((size_t)nys, std::vector<float>((size_t)(M * N) + 16));
  int64_t yi = 0;
  std::vector<uint8_t> q((size_t)(M * N));
  for (auto _ : state) {
    float* yp = ys[yi].data() + (16 - (reinterpret_cast<uintptr_t>(ys[yi].data()) / 4) % 16) % 16;
    gs[c]->run_float(M, K, N, a.data(), false, za, nullptr, true, zb, dq, yp);
    if (state.range(5)) quantize_u8_row_tiles(yp, M, N, 4.2f / 255, 12, q.data());
    c = (c + 1) % copies;
    yi = (yi + 1) % nys;
  }
  state.counters["OP/s"] = benchmark::Counter(2.0 * M * K * N * state.iterations(), benchmark::Counter::kIsRate);
}

void Int8Shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 128, 4096}) {
    b->Args({m, 768, 768, 0});
    b->Args({m, 768, 3072, 0});
    b->Args({m, 768, 3072, 1});
    b->Args({m, 3072, 768, 0});
  }
}
BENCHMARK(BM_MatMulInt8)->Apply(Int8Shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatMulInt8Vnni)->Apply(Int8Shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatMulInt8OneDnn)->Apply(Int8Shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatMulInt8ColdB)
    ->Args({128, 768, 768, 0, 1, 0})
    ->Args({128, 768, 3072, 1, 1, 0})
    ->Args({128, 768, 3072, 1, 16, 0})
    ->Args({128, 768, 3072, 1, 16, 1})
    ->Args({128, 3072, 768, 0, 1, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace


// Twelve heads of DistilBERT's attention block at 128 tokens (kiln:Attention's steps, one thread),
// one step per case (state.range(0)): 0 K^T packed, 1 Q K^T (the scores; Q and K read in place from
// the projections' [128, 768] rows), 2 the padding mask's Where and the softmax of 128 rows, 3 P V.
void BM_AttentionHead(benchmark::State& state) {
  const int64_t S = 128, D = 64, ld = 768;
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> q(S * ld), k(S * ld), v(S * ld), kt(D * S), s(S * S), o(S * ld);
  for (auto* t : {&q, &k, &v})
    for (auto& x : *t) x = d(g);
  std::vector<uint8_t> mask(S, 1);
  attention_transpose(k.data(), S, D, ld, kt.data());
  attention_gemm(S, S, D, 0.125f, q.data(), ld, kt.data(), S, s.data(), S);
  const int part = (int)state.range(0);
  std::vector<float> s0 = s;
  for (auto _ : state) {
    for (int rep = 0; rep < 12; ++rep) {
      switch (part) {
        case 0: attention_transpose(k.data() + rep * D, S, D, ld, kt.data()); break;
        case 1: attention_gemm(S, S, D, 0.125f, q.data() + rep * D, ld, kt.data(), S, s.data(), S); break;
        case 2:
          for (int64_t i = 0; i < S; ++i) attention_where_bytes(mask.data(), S, false, -3.4e38f, s.data() + i * S);
          vec::softmax_rows(s.data(), S, S, S);
          break;
        default: attention_gemm(S, D, S, 1.0f, s.data(), S, v.data() + rep * D, ld, o.data() + rep * D, ld); break;
      }
    }
    benchmark::DoNotOptimize(s.data());
    benchmark::DoNotOptimize(o.data());
    if (part == 2) s = s0;
  }
}
BENCHMARK(BM_AttentionHead)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
