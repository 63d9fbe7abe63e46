// How fast, and in how much memory, a real-size checkpoint loads: a DistilBERT-base-shaped state
// dict of random weights (bench/configs/distilbert-base.json, ~66 M parameters) written once as
// pytorch_model.bin and as model.safetensors (its peer, measured in the same run), then read by
// read_checkpoint in fresh processes. Prints, per format, the median load time of 5 runs and the
// loading process's memory (the most of 5 runs): peak resident, private (anonymous: copies would
// show here) and file-backed (mapped pages of the checkpoint) after the load, and the peak after
// also reading every byte. The files are in the page cache (just written): this measures parsing and mapping, not
// the disk.
//
//   build/bench/checkpoint_load_bench [SCRATCH_DIR]
//   build/bench/checkpoint_load_bench --write-folder DIR   (config.json + pytorch_model.bin into DIR,
//                                                           for bench/export-real-size)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "../tests/export/torch_writer.h"
#include "core/tensor_json.h"
#include "export/checkpoint.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;

namespace {

std::map<std::string, Tensor> distilbert_base() {
  auto c = nlohmann::json::parse(read_file(KILN_SOURCE_DIR "/bench/configs/distilbert-base.json"));
  const int64_t d = c["dim"], h = c["hidden_dim"], layers = c["n_layers"], vocab = c["vocab_size"],
                pos = c["max_position_embeddings"];
  std::map<std::string, Shape> shapes = {{"distilbert.embeddings.word_embeddings.weight", {vocab, d}},
                                         {"distilbert.embeddings.position_embeddings.weight", {pos, d}},
                                         {"distilbert.embeddings.LayerNorm.weight", {d}},
                                         {"distilbert.embeddings.LayerNorm.bias", {d}},
                                         {"pre_classifier.weight", {d, d}},
                                         {"pre_classifier.bias", {d}},
                                         {"classifier.weight", {2, d}},
                                         {"classifier.bias", {2}}};
  for (int64_t i = 0; i < layers; ++i) {
    std::string l = "distilbert.transformer.layer." + std::to_string(i) + ".";
    for (std::string lin : {"q_lin", "k_lin", "v_lin", "out_lin"}) {
      shapes[l + "attention." + lin + ".weight"] = {d, d};
      shapes[l + "attention." + lin + ".bias"] = {d};
    }
    for (std::string ln : {"sa_layer_norm", "output_layer_norm"}) {
      shapes[l + ln + ".weight"] = {d};
      shapes[l + ln + ".bias"] = {d};
    }
    shapes[l + "ffn.lin1.weight"] = {h, d};
    shapes[l + "ffn.lin1.bias"] = {h};
    shapes[l + "ffn.lin2.weight"] = {d, h};
    shapes[l + "ffn.lin2.bias"] = {d};
  }
  std::mt19937 rng(1234);
  std::map<std::string, Tensor> out;
  for (const auto& [name, shape] : shapes) {
    Tensor t(DType::F32, shape);
    uint32_t* p = static_cast<uint32_t*>(t.raw());
    // Random small floats from random bits (sign, exponent near 2^-6, mantissa): no NaNs.
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = (rng() & 0x807fffffu) | 0x3c800000u;
    out[name] = t;
  }
  return out;
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

// A field of /proc/self/status in KiB (VmHWM: peak resident; RssAnon: private memory such as
// copies; RssFile: pages of mapped files, shared with the page cache).
long status_kb(const std::string& field) {
  std::ifstream st("/proc/self/status");
  for (std::string line; std::getline(st, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// Child mode: load DIR, print "seconds peak_kb anon_kb file_kb peak_after_reading_kb".
int load_once(const std::string& dir) {
  auto t0 = std::chrono::steady_clock::now();
  CheckpointTensors c = read_checkpoint(dir);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long peak = status_kb("VmHWM"), anon = status_kb("RssAnon"), file = status_kb("RssFile");
  uint64_t sum = 0;
  for (const auto& [name, t] : c.tensors) {
    const uint64_t* p = static_cast<const uint64_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes() / 8; ++i) sum += p[i];
  }
  std::printf("%.6f %ld %ld %ld %ld %llu\n", s, peak, anon, file, status_kb("VmHWM"), (unsigned long long)sum);
  return 0;
}

// A checkpoint folder as transformers saves one: the bench config and the state dict as
// pytorch_model.bin.
int write_folder(const fs::path& dir) {
  fs::create_directories(dir);
  fs::copy_file(KILN_SOURCE_DIR "/bench/configs/distilbert-base.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  write(dir / "pytorch_model.bin", test::torch_bin(distilbert_base()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--load") return load_once(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "--write-folder") return write_folder(argv[2]);
  fs::path scratch = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("kiln-ckpt-bench-" + std::to_string(getpid()));
  fs::create_directories(scratch / "bin");
  fs::create_directories(scratch / "st");
  {
    auto tensors = distilbert_base();
    write(scratch / "bin" / "pytorch_model.bin", test::torch_bin(tensors));
    write(scratch / "st" / "model.safetensors", test::safetensors_file(tensors));
  }
  std::string self = fs::canonical("/proc/self/exe").string();
  std::printf("%-18s %8s %8s %10s %10s %10s %14s\n", "", "", "", "after load", "", "", "after reading");
  std::printf("%-18s %8s %8s %10s %10s %10s %14s\n", "format", "file MB", "load ms", "peak MB", "anon MB",
              "mapped MB", "peak MB");
  for (std::string fmt : {"bin", "st"}) {
    fs::path file = scratch / fmt / (fmt == "bin" ? "pytorch_model.bin" : "model.safetensors");
    std::vector<double> times;
    long m[4] = {0, 0, 0, 0};
    for (int r = 0; r < 5; ++r) {
      std::string cmd = self + " --load " + (scratch / fmt).string();
      FILE* p = popen(cmd.c_str(), "r");
      double s = 0;
      long v[4];
      unsigned long long sum = 0;
      if (!p || std::fscanf(p, "%lf %ld %ld %ld %ld %llu", &s, &v[0], &v[1], &v[2], &v[3], &sum) != 6) {
        std::fprintf(stderr, "the loading process failed\n");
        return 1;
      }
      pclose(p);
      times.push_back(s);
      for (int k = 0; k < 4; ++k) m[k] = std::max(m[k], v[k]);
    }
    std::sort(times.begin(), times.end());
    std::printf("%-18s %8.1f %8.2f %10.1f %10.1f %10.1f %14.1f\n", file.filename().c_str(), fs::file_size(file) / 1e6,
                times[2] * 1e3, m[0] / 1024.0, m[1] / 1024.0, m[2] / 1024.0, m[3] / 1024.0);
  }
  if (argc <= 1) fs::remove_all(scratch);
  return 0;
}
