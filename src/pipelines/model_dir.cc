#include "pipelines/model_dir.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/tensor_json.h"

namespace kiln::pipelines {
namespace fs = std::filesystem;

namespace {
const char* kStems[] = {"decoder_model_merged", "decoder_with_past_model", "encoder_model", "decoder_model", "model"};
const char* kTokenizerFiles[] = {"tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                                 "tokenizer.model"};

std::string trim(std::string s) {
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
  return s.substr(i);
}
}  // namespace

ModelDir::ModelDir(std::string dir, std::string file, int threads)
    : dir_(std::move(dir)), file_(std::move(file)), threads_(threads) {
  KILN_CHECK(fs::is_directory(dir_), IoError, "model folder {} does not exist (or is not a folder)", dir_);
  config_ = read_model_config(dir_);
}

std::optional<std::string> ModelDir::find_graph(const std::string& stem) const {
  std::vector<std::string> names;
  if (file_.empty()) {
    names.push_back(stem + ".onnx");
  } else if (file_.size() > 5 && file_.ends_with(".onnx")) {
    // A file name: single-graph models use it as is; multi-graph models take its suffix.
    if (stem == "model") names.push_back(file_);
    std::string base = file_.substr(0, file_.size() - 5), suffix;
    for (const char* s : kStems)
      if (base.rfind(s, 0) == 0) {
        suffix = base.substr(std::string(s).size());
        break;
      }
    if (base.rfind(stem, 0) == 0 && base.substr(stem.size()) == suffix) names.push_back(file_);
    else if (!suffix.empty()) names.push_back(stem + suffix + ".onnx");
    else if (stem != "model") names.push_back(stem + ".onnx");
  } else {
    std::string suffix = file_[0] == '_' ? file_ : "_" + file_;
    names.push_back(stem + suffix + ".onnx");
  }
  for (const auto& n : names)
    for (const char* sub : {"", "onnx"}) {
      fs::path p = fs::path(dir_) / sub / n;
      if (fs::is_regular_file(p)) return p.string();
    }
  return std::nullopt;
}

std::string ModelDir::graphs_listing() const {
  std::vector<std::string> found;
  for (const char* sub : {"", "onnx"}) {
    fs::path d = fs::path(dir_) / sub;
    if (!fs::is_directory(d)) continue;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_regular_file() && e.path().extension() == ".onnx")
        found.push_back((fs::path(sub) / e.path().filename()).string());
  }
  std::sort(found.begin(), found.end());
  std::string s;
  for (const auto& f : found) s += (s.empty() ? "" : ", ") + f;
  return s.empty() ? "no .onnx files" : s;
}

std::string ModelDir::require_graph(const std::string& stem, const std::string& task) const {
  if (auto p = find_graph(stem)) return *p;
  std::string want = file_.empty()                                   ? stem + ".onnx"
                     : (stem == "model" && file_.ends_with(".onnx")) ? file_
                                                                      : fmt::format("{}.onnx for --file {}", stem, file_);
  throw IoError(fmt::format("{} has no {} (it holds: {}); task {} needs it", dir_, want, graphs_listing(), task));
}

std::shared_ptr<const Session> ModelDir::open(const std::string& path) const {
  SessionOptions so;
  so.threads = threads_;
  so.max_tensor_bytes = max_tensor_bytes_;
  so.run_timeout_ms = run_timeout_ms_;
  so.max_model_bytes = load_limits_.max_model_bytes;
  so.max_subgraph_depth = load_limits_.max_subgraph_depth;
  return std::make_shared<const Session>(path, so);
}

std::string ModelDir::tokenizer_dir() const {
  for (const char* f : kTokenizerFiles)
    if (fs::exists(fs::path(dir_) / f)) return dir_;
  // The shared fixtures name their tokenizer folder in tokenizer.txt (relative to the model folder).
  fs::path pointer = fs::path(dir_) / "tokenizer.txt";
  if (fs::exists(pointer)) {
    std::string rel = trim(read_file(pointer.string()));
    if (rel.rfind("use ", 0) == 0) rel = trim(rel.substr(4));  // the fixtures write "use ../../data/tokenizers/x"
    fs::path d = fs::path(dir_) / rel;
    if (fs::is_directory(d)) return d.string();
  }
  return "";
}

bool ModelDir::has_tokenizer() const { return tokenizer_ || !tokenizer_dir().empty(); }

const Tokenizer& ModelDir::tokenizer() const {
  if (!tokenizer_) {
    std::string d = tokenizer_dir();
    KILN_CHECK(!d.empty(), IoError,
               "{} has no tokenizer (looked for tokenizer.json, vocab.txt, vocab.json + merges.txt, spiece.model); "
               "copy the tokenizer files in, or pass token ids with --input-ids",
               dir_);
    tokenizer_ = Tokenizer::from_dir(d);
  }
  return *tokenizer_;
}

}  // namespace kiln::pipelines
