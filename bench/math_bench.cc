// The elementwise/normalisation kernels on DistilBERT-base activation shapes ([1, 128, 768] and
// [1, 128, 3072]), each through a one-node Session, beside a reference measured in the same run:
// the C library's scalar erff/tanhf/expf loops for the transcendental ops and a plain memcpy of
// the same bytes for the memory-bound ones. Read the ratios; absolute times drift on a shared machine.
//   build/bench/math_bench [KILN_BENCH_THREADS=1]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "../tests/kernels/single_node.h"
#include "core/threads.h"
#include "runtime/kernels/cpu/row_tiles.h"

using namespace kiln;

namespace {

int bench_threads() {
  const char* e = std::getenv("KILN_BENCH_THREADS");
  return e ? std::atoi(e) : 1;
}

Tensor random_f32(Shape s, float lo = -4, float hi = 4) {
  Tensor t(DType::F32, std::move(s));
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(g);
  return t;
}

// A Session over one node, fed the same tensors each iteration.
struct OneNode {
  std::unique_ptr<Session> session;
  NamedTensors feeds;
  OneNode(const std::string& op, std::vector<Tensor> inputs, std::map<std::string, Attribute> attrs = {},
          int64_t opset = 17, const std::string& domain = "") {
    Model m;
    m.set_opset("", opset);
    if (!domain.empty()) m.set_opset(domain, 1);
    Node n;
    n.op_type = op;
    n.domain = domain;
    n.name = "node";
    n.attributes = std::move(attrs);
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string name = "in" + std::to_string(i);
      n.inputs.push_back(name);
      ValueInfo v;
      v.name = name;
      v.dtype = inputs[i].dtype();
      m.graph.inputs.push_back(v);
      feeds[name] = inputs[i];
    }
    n.outputs.push_back("out");
    ValueInfo o;
    o.name = "out";
    m.graph.outputs.push_back(o);
    m.graph.nodes.push_back(n);
    SessionOptions opt;
    opt.threads = bench_threads();
    opt.optimization_level = 0;
    session = std::make_unique<Session>(std::move(m), opt);
  }
  void run() { benchmark::DoNotOptimize(session->run(feeds)); }
};

const Shape kHidden{1, 128, 768}, kInter{1, 128, 3072};

void run_node(benchmark::State& st, OneNode& node, int64_t elems) {
  for (auto _ : st) node.run();
  st.SetItemsProcessed(st.iterations() * elems);
}

void BM_Erf(benchmark::State& st) {
  OneNode n("Erf", {random_f32(kInter)});
  run_node(st, n, shape_numel(kInter));
}
void BM_Tanh(benchmark::State& st) {
  OneNode n("Tanh", {random_f32(kInter)});
  run_node(st, n, shape_numel(kInter));
}
void BM_BiasGelu(benchmark::State& st) {  // the FFN activation of BERT-base, bias folded in
  OneNode n("BiasGelu", {random_f32(kInter), random_f32({3072})}, {}, 17, "com.microsoft");
  run_node(st, n, shape_numel(kInter));
}
void BM_DynamicQuantizeLinear(benchmark::State& st) {  // the FFN output's activations, [1, 128, 3072]
  OneNode n("DynamicQuantizeLinear", {random_f32(kInter)}, {}, 13);
  run_node(st, n, shape_numel(kInter));
}
// The same quantization written in row tiles (what kiln:DynamicQuantizeLinear does before the FFN's
// second product in a quantized model), straight through the kernel, range given.
void BM_QuantizeRowTiles(benchmark::State& st) {
  configure_threads(bench_threads());
  Tensor x = random_f32(kInter, -0.2f, 4.f);
  std::vector<uint8_t> y((size_t)x.numel());
  for (auto _ : st) {
    cpu::quantize_u8_row_tiles(x.data<float>(), 128, 3072, 4.2f / 255, 12, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * x.numel());
}
void BM_Softmax(benchmark::State& st) {  // attention scores [1, 12, 128, 128]
  OneNode n("Softmax", {random_f32({1, 12, 128, 128})}, {}, 13);
  run_node(st, n, 12 * 128 * 128);
}
void BM_LayerNorm(benchmark::State& st) {
  OneNode n("LayerNormalization", {random_f32(kHidden), random_f32({768}), random_f32({768})});
  run_node(st, n, shape_numel(kHidden));
}
void BM_AddBias(benchmark::State& st) {
  OneNode n("Add", {random_f32(kInter), random_f32({3072})});
  run_node(st, n, shape_numel(kInter));
}
void BM_AddResidual(benchmark::State& st) {
  OneNode n("Add", {random_f32(kHidden), random_f32(kHidden)});
  run_node(st, n, shape_numel(kHidden));
}
void BM_DivScalar(benchmark::State& st) {
  OneNode n("Div", {random_f32(kInter), Tensor::scalar<float>(1.41421356f)});
  run_node(st, n, shape_numel(kInter));
}

// References in the same run.
void BM_ref_libm_erff(benchmark::State& st) {
  Tensor x = random_f32(kInter), y(DType::F32, kInter);
  for (auto _ : st) {
    const float* px = x.data<float>();
    float* py = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = std::erf(px[i]);
    benchmark::DoNotOptimize(py);
  }
  st.SetItemsProcessed(st.iterations() * x.numel());
}
void BM_ref_libm_tanhf(benchmark::State& st) {
  Tensor x = random_f32(kInter), y(DType::F32, kInter);
  for (auto _ : st) {
    const float* px = x.data<float>();
    float* py = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = std::tanh(px[i]);
    benchmark::DoNotOptimize(py);
  }
  st.SetItemsProcessed(st.iterations() * x.numel());
}
void BM_ref_memcpy_inter(benchmark::State& st) {  // one read + one write of [1, 128, 3072] floats
  Tensor x = random_f32(kInter);
  for (auto _ : st) {
    Tensor y(DType::F32, kInter);
    std::memcpy(y.raw(), x.raw(), x.nbytes());
    benchmark::DoNotOptimize(y.raw());
  }
  st.SetItemsProcessed(st.iterations() * x.numel());
}

}  // namespace

BENCHMARK(BM_Erf);
BENCHMARK(BM_ref_libm_erff);
BENCHMARK(BM_Tanh);
BENCHMARK(BM_ref_libm_tanhf);
BENCHMARK(BM_BiasGelu);
BENCHMARK(BM_DynamicQuantizeLinear);
BENCHMARK(BM_QuantizeRowTiles);
BENCHMARK(BM_Softmax);
BENCHMARK(BM_LayerNorm);
BENCHMARK(BM_AddBias);
BENCHMARK(BM_AddResidual);
BENCHMARK(BM_DivScalar);
BENCHMARK(BM_ref_memcpy_inter);
BENCHMARK_MAIN();
