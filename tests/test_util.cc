#include "test_util.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace kiln::test {

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

}  // namespace kiln::test
