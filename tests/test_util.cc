#include "test_util.h"

#include "runtime/session.h"

#include <onnx/checker.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <stdexcept>

namespace kiln::test {

int count_op(const Graph& g, const std::string& domain, const std::string& op) {
  const std::string want = canonical_domain(domain);
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op && canonical_domain(node.domain) == want;
  return n;
}

Tensor normal_tensor(const Shape& shape, uint32_t seed, float std, float mean) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, std);
  Tensor t(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(gen);
  return t;
}

std::string fixture(const std::string& rel) { return std::string(KILN_SOURCE_DIR) + "/tests/fixtures/" + rel; }

std::string shared_path(const std::string& rel) {
  auto p = std::filesystem::path(KILN_SOURCE_DIR).parent_path() / "shared" / rel;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

std::string kiln_binary() { return std::string(KILN_BINARY_DIR) + "/kiln"; }

double relative_error(const Tensor& got, const Tensor& ref) {
  if (got.shape() != ref.shape()) return std::numeric_limits<double>::infinity();
  double scale = 1e-6, err = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double r = ref.item_f64(i), g = got.item_f64(i);
    scale = std::max(scale, std::fabs(r));
    double d = std::fabs(g - r);
    if (std::isnan(d)) {
      if (std::isnan(r) && std::isnan(g)) continue;
      return std::numeric_limits<double>::infinity();
    }
    err = std::max(err, d);
  }
  return err / scale;
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string s;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) s.append(buf, n);
  int st = pclose(p);
  if (out) *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

ScratchDir::ScratchDir(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  path = std::filesystem::temp_directory_path() /
         (prefix + "-" + std::to_string(::getpid()) + "-" + (info ? info->name() : "no-test"));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

bool in_ci() {
  const char* v = std::getenv("CI");
  if (!v || !*v) return false;
  std::string s(v);
  return s != "false" && s != "0";
}

std::string peers_dir() { return std::string(KILN_BINARY_DIR) + "/peers"; }

std::string ort_peer() {
  std::string js = peers_dir() + "/ort-run.js";
  bool ok = std::filesystem::exists(js) && std::filesystem::exists(peers_dir() + "/node_modules/onnxruntime-node");
  return ok ? js : std::string();
}

bool have_ort() {
  if (!ort_peer().empty()) return true;
  if (in_ci()) {
    ADD_FAILURE() << "CI must have the ONNX Runtime peer (make peers)";
  } else {
    std::fprintf(stderr, "NOTE: ONNX Runtime peer not installed (make peers): its comparisons are not made\n");
  }
  return false;
}

NamedTensors run_ort(const std::string& model, const NamedTensors& feeds, const std::string& scratch,
                     const std::string& extra_args) {
  std::string js = ort_peer();
  if (js.empty()) throw std::runtime_error("ONNX Runtime peer not installed (make peers)");
  namespace fs = std::filesystem;
  fs::create_directories(scratch);
  static int counter = 0;
  std::string tag = std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::string in = (fs::path(scratch) / ("ort-in-" + tag + ".json")).string();
  std::string out = (fs::path(scratch) / ("ort-out-" + tag + ".json")).string();
  write_file_atomic(in, tensors_to_json_text(feeds));
  std::string log;
  int rc = run_command("node " + js + " '" + model + "' '" + in + "' '" + out + "' " + extra_args, &log);
  if (rc != 0) throw std::runtime_error("ort-run.js failed (exit " + std::to_string(rc) + ") on " + model + ": " + log);
  NamedTensors got = read_tensors_json(out);
  fs::remove(in);
  fs::remove(out);
  return got;
}

std::map<std::string, double> kiln_vs_ort(const std::string& model, const NamedTensors& feeds,
                                          const std::string& scratch, const SessionOptions& options) {
  NamedTensors ort = run_ort(model, feeds, scratch);
  NamedTensors got = Session(model, options).run(feeds);
  std::map<std::string, double> err;
  for (const auto& [name, ref] : ort)
    err[name] = got.count(name) ? relative_error(got.at(name), ref) : std::numeric_limits<double>::infinity();
  return err;
}

void onnx_check(const std::string& path) { onnx::checker::check_model(path); }

}  // namespace kiln::test
