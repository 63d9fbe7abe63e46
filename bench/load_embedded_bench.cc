// How fast a model whose weights are inside the .onnx file loads. A MODEL.onnx not named *-embedded
// is first saved once with every initializer embedded, beside it as MODEL-embedded.onnx; then loads
// it R times in this process and prints the median load time and the file's size, then the median of
// load + reading every initializer byte once (the mapped pages fault in on first use, so that is the
// time a first run pays on top). The file is in the page cache (just written or read): this measures
// parsing and mapping, not the disk.
//
//   build/bench/load_embedded_bench MODEL.onnx [RUNS]       (bench/load-embedded wraps it)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "graph/onnx_io.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: load_embedded_bench MODEL.onnx [RUNS]\n");
    return 2;
  }
  std::string path = argv[1];
  int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
  // A model saved with external data: write its embedded copy once.
  if (path.find("-embedded") == std::string::npos) {
    std::string emb = (fs::path(path).parent_path() / (fs::path(path).stem().string() + "-embedded.onnx")).string();
    if (!fs::exists(emb)) {
      Model m = load_model(path);
      save_model(m, emb);
    }
    path = emb;
  }
  uintmax_t size = fs::file_size(path);
  std::vector<double> load, touch;
  volatile unsigned sink = 0;
  size_t viewed = 0, total = 0;
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    Model m = load_model(path);
    load.push_back(seconds_since(t0));
    unsigned acc = 0;
    for (const auto& [name, t] : m.graph.initializers) {
      const unsigned char* p = static_cast<const unsigned char*>(t.raw());
      size_t n = t.nbytes();
      if (r == 0) {
        total += n;
        if (t.buffer() && t.buffer()->is_view()) viewed += n;
      }
      for (size_t i = 0; i < n; i += 64) acc += p[i];
    }
    sink = sink + acc;
    touch.push_back(seconds_since(t0));
  }
  std::printf("model %s: %.1f MB (%ju bytes), %d loads\n", path.c_str(), (double)size / 1e6, size, runs);
  std::printf("load median %.3f s (min %.3f, max %.3f)\n", median(load), *std::min_element(load.begin(), load.end()),
              *std::max_element(load.begin(), load.end()));
  std::printf("initializer bytes held as views (not copied after the parse): %.1f of %.1f MB\n", (double)viewed / 1e6,
              (double)total / 1e6);
  std::printf("load + read every weight byte median %.3f s\n", median(touch));
  return 0;
}
