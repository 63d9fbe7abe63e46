#include "core/json_lines.h"

#include <fstream>

#include "core/error.h"

namespace kiln {

void for_each_json_line(const std::string& path, const std::string& what,
                        const std::function<void(const nlohmann::json&, int)>& each) {
  std::ifstream f(path);
  KILN_CHECK(f.good(), IoError, "cannot read {} {}", what, path);
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw BadInput(fmt::format("{} line {}: not JSON ({})", path, n, e.what()));
    }
    each(j, n);
  }
}

}  // namespace kiln
