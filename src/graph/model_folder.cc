// kiln::ModelFolder: a model folder's graphs, config, tokenizer and travelling files, found once.
#include "kiln/model_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_json.h"

namespace kiln {
namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
  return s.substr(i);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::vector<std::string> onnx_files(const fs::path& d) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(d, ec)) return out;
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.is_regular_file() && e.path().extension() == ".onnx") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A folder kiln's Tokenizer::from_dir can read.
bool has_tokenizer_files(const fs::path& d) {
  for (const auto& f : ModelFolder::tokenizer_files())
    if (f != "merges.txt" && fs::is_regular_file(d / f))
      return f != "vocab.json" || fs::is_regular_file(d / "merges.txt");
  return false;
}

// Every tokenizer file kiln or transformers reads, copied with a model.
const std::vector<std::string>& tokenizer_companions() {
  static const std::vector<std::string> files = {"tokenizer.json",
                                                 "tokenizer_config.json",
                                                 "special_tokens_map.json",
                                                 "added_tokens.json",
                                                 "vocab.txt",
                                                 "vocab.json",
                                                 "merges.txt",
                                                 "spiece.model",
                                                 "sentencepiece.bpe.model",
                                                 "tokenizer.model",
                                                 "source.spm",
                                                 "target.spm"};
  return files;
}

}  // namespace

const std::vector<std::string>& ModelFolder::tokenizer_files() {
  static const std::vector<std::string> files = {"tokenizer.json", "vocab.txt",    "vocab.json",
                                                 "merges.txt",     "spiece.model", "sentencepiece.bpe.model",
                                                 "tokenizer.model"};
  return files;
}

const std::vector<std::string>& ModelFolder::graph_stems() {
  static const std::vector<std::string> stems = {"model", "encoder_model", "decoder_model", "decoder_with_past_model",
                                                 "decoder_model_merged"};
  return stems;
}

ModelFolder ModelFolder::open(const std::string& dir) {
  KILN_CHECK(!dir.empty(), BadInput, "no model folder given");
  KILN_CHECK(fs::is_directory(dir), IoError, "model folder {} does not exist (or is not a folder)", dir);
  ModelFolder m;
  m.path_ = dir;
  const fs::path d(dir);

  // Graphs: at the top level, or in onnx/ (Optimum's Hub layout), never both.
  std::vector<std::string> top = onnx_files(d), sub = onnx_files(d / "onnx");
  if (!top.empty() && !sub.empty())
    throw BadInput(
        fmt::format("{} is ambiguous: it holds graphs both at its top level ({}) and in onnx/ ({}); "
                    "keep one set",
                    dir, join(top), join(sub)));
  m.graph_dir_ = sub.empty() ? dir : (d / "onnx").string();
  m.graphs_ = sub.empty() ? top : sub;

  // config.json and generation_config.json.
  if (fs::is_regular_file(d / "config.json")) {
    m.config_path_ = (d / "config.json").string();
    m.read_config();
  }
  if (fs::is_regular_file(d / "generation_config.json"))
    m.generation_config_path_ = (d / "generation_config.json").string();

  // The tokenizer: files in the folder, or the folder a tokenizer.txt pointer names.
  fs::path pointer = d / "tokenizer.txt";
  if (fs::is_regular_file(pointer)) {
    std::string rel = trim(read_file(pointer.string()));
    m.tokenizer_pointer_use_ = rel.rfind("use ", 0) == 0;
    if (m.tokenizer_pointer_use_) rel = trim(rel.substr(4));
    std::error_code ec;
    if (!rel.empty() && fs::is_directory(d / rel, ec)) m.tokenizer_pointer_ = (d / rel).lexically_normal().string();
  }
  if (has_tokenizer_files(d)) m.tokenizer_dir_ = dir;
  else if (!m.tokenizer_pointer_.empty() && has_tokenizer_files(m.tokenizer_pointer_))
    m.tokenizer_dir_ = m.tokenizer_pointer_;
  return m;
}

std::vector<std::string> ModelFolder::main_graphs() const {
  std::vector<std::string> out;
  for (const auto& s : graph_stems())
    if (contains(graphs_, s + ".onnx")) out.push_back(s + ".onnx");
  return out.empty() ? graphs_ : out;
}

std::string ModelFolder::layout() const {
  auto has = [&](const char* f) { return contains(graphs_, f); };
  const bool decoder =
      has("decoder_model.onnx") || has("decoder_model_merged.onnx") || has("decoder_with_past_model.onnx");
  if (has("encoder_model.onnx") && decoder) return "seq2seq";
  if (decoder) return "decoder";
  if (has("model.onnx")) return "encoder";
  return "";
}

bool ModelFolder::has_merged_decoder() const { return contains(graphs_, "decoder_model_merged.onnx"); }

std::optional<std::string> ModelFolder::graph(const std::string& stem, const std::string& file) const {
  std::vector<std::string> names;
  if (file.empty()) {
    names.push_back(stem + ".onnx");
  } else if (file.size() > 5 && file.ends_with(".onnx")) {
    // A file name: single-graph models use it as is; multi-graph models take its suffix.
    if (stem == "model") names.push_back(file);
    std::string base = file.substr(0, file.size() - 5), suffix;
    // Longest stem first, so decoder_model_merged_x is not read as decoder_model + _merged_x.
    std::vector<std::string> stems = graph_stems();
    std::sort(stems.begin(), stems.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& s : stems)
      if (base.rfind(s, 0) == 0) {
        suffix = base.substr(s.size());
        break;
      }
    if (base.rfind(stem, 0) == 0 && base.substr(stem.size()) == suffix) names.push_back(file);
    else if (!suffix.empty()) names.push_back(stem + suffix + ".onnx");
    else if (stem != "model") names.push_back(stem + ".onnx");
  } else {
    names.push_back(stem + (file[0] == '_' ? file : "_" + file) + ".onnx");
  }
  for (const auto& n : names)
    if (contains(graphs_, n)) return (fs::path(graph_dir_) / n).string();
  return std::nullopt;
}

std::string ModelFolder::graphs_listing() const {
  if (graphs_.empty()) return "no .onnx files";
  const bool sub = graph_dir_ != path_;
  std::string s;
  for (const auto& g : graphs_) s += (s.empty() ? "" : ", ") + (sub ? "onnx/" + g : g);
  return s;
}

std::string ModelFolder::require_graph(const std::string& stem, const std::string& file, const std::string& why) const {
  if (auto p = graph(stem, file)) return *p;
  std::string want = file.empty()                                   ? stem + ".onnx"
                     : (stem == "model" && file.ends_with(".onnx")) ? file
                                                                    : fmt::format("{}.onnx for --file {}", stem, file);
  throw IoError(
      fmt::format("{} has no {} (looked in it and in onnx/; it holds: {}); {}", path_, want, graphs_listing(), why));
}

std::string ModelFolder::task() const {
  for (const auto& a : architectures_)
    if (std::string t = task_for_class(a); !t.empty()) return t;
  return "";
}

void ModelFolder::read_config() {
  auto j = nlohmann::json::parse(read_file(config_path_), nullptr, false);
  KILN_CHECK(j.is_object(), BadModel, "{} is not a JSON object; fix or replace config.json", config_path_);
  // A field present (and not null) must have the type transformers gives it.
  auto get = [&](const char* key, auto& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return false;
    try {
      out = it->get<std::remove_reference_t<decltype(out)>>();
    } catch (const nlohmann::json::exception&) {
      throw BadModel(fmt::format("{}: config field '{}' has the wrong type ({})", config_path_, key, it->dump()));
    }
    return true;
  };
  get("model_type", model_type_);
  get("architectures", architectures_);
  get("is_encoder_decoder", is_encoder_decoder_);
  get("prefix", prefix_);
  get("vocab_size", vocab_size_);
  for (const char* k : {"max_position_embeddings", "n_positions", "n_ctx"})
    if (int64_t v = 0; get(k, v) && v > 0) {
      max_positions_ = v;
      break;
    }
  // Labels: id2label's names by id, num_labels of them (id2label's size when not given).
  std::map<int64_t, std::string> id2label;
  if (auto it = j.find("id2label"); it != j.end() && it->is_object())
    for (auto& [k, v] : it->items()) {
      try {
        id2label[std::stoll(k)] = v.get<std::string>();
      } catch (const std::exception&) {
        throw BadModel(fmt::format("{}: id2label key '{}' is not an integer id with a label name", config_path_, k));
      }
    }
  int64_t n = (int64_t)id2label.size();
  get("num_labels", n);
  for (int64_t i = 0; i < n; ++i) {
    auto it = id2label.find(i);
    labels_.push_back(it != id2label.end() ? it->second : fmt::format("LABEL_{}", i));
  }
}

std::string ModelFolder::require_config() const {
  KILN_CHECK(!config_path_.empty(), IoError,
             "{} has no config.json; a model folder needs it (labels, special token ids): copy it from the checkpoint",
             path_);
  return config_path_;
}

std::string ModelFolder::require_task() const {
  if (std::string t = task(); !t.empty()) return t;
  const std::string why = config_path_.empty() ? "it has no config.json"
                          : architectures_.empty()
                              ? "its config.json names no architectures"
                              : "kiln maps none of its architectures (" + join(architectures_) + ")";
  throw BadInput(fmt::format(
      "cannot infer the task of {}: {}; pass --task (text-classification, token-classification, question-answering, "
      "feature-extraction, fill-mask, text2text-generation, summarization, translation, text-generation)",
      path_, why));
}

std::string ModelFolder::require_tokenizer_dir(const std::string& what_to_do) const {
  if (!tokenizer_dir_.empty()) return tokenizer_dir_;
  std::string extra;
  if (fs::is_regular_file(fs::path(path_) / "source.spm"))
    extra = " (its source.spm is a Marian tokenizer, which kiln does not read yet)";
  throw IoError(fmt::format("{} has no tokenizer{} (looked for {}, and a tokenizer.txt naming a folder with them); {}",
                            path_, extra,
                            "tokenizer.json, vocab.txt, vocab.json + merges.txt, spiece.model, "
                            "sentencepiece.bpe.model, tokenizer.model",
                            what_to_do));
}

std::vector<std::string> ModelFolder::travelling_files() const {
  std::vector<std::string> out;
  const fs::path d(path_);
  for (const char* f : {"config.json", "generation_config.json", "preprocessor_config.json"})
    if (fs::is_regular_file(d / f)) out.push_back(f);
  for (const auto& f : tokenizer_companions())
    if (fs::is_regular_file(d / f)) out.push_back(f);
  return out;
}

std::vector<std::string> ModelFolder::tokenizer_paths() const {
  std::vector<std::string> out;
  if (tokenizer_dir_.empty()) return out;
  for (const auto& f : tokenizer_companions())
    if (fs::is_regular_file(fs::path(tokenizer_dir_) / f)) out.push_back((fs::path(tokenizer_dir_) / f).string());
  return out;
}

std::string ModelFolder::tokenizer_pointer_for(const std::string& out_dir) const {
  if (tokenizer_pointer_.empty()) return "";
  std::string rel =
      fs::relative(fs::weakly_canonical(fs::absolute(tokenizer_pointer_)), fs::weakly_canonical(fs::absolute(out_dir)))
          .string();
  if (rel.empty()) rel = fs::weakly_canonical(fs::absolute(tokenizer_pointer_)).string();
  return (tokenizer_pointer_use_ ? "use " : "") + rel + "\n";
}

std::string task_for_class(const std::string& c) {
  struct Suffix {
    const char* suffix;
    const char* task;
  };
  static const Suffix kSuffixes[] = {
      {"ForSequenceClassification", "text-classification"},
      {"ForTokenClassification", "token-classification"},
      {"ForQuestionAnswering", "question-answering"},
      {"ForMaskedLM", "fill-mask"},
      {"ForConditionalGeneration", "text2text-generation"},
      {"MTModel", "text2text-generation"},  // MarianMTModel, FSMTModel
      {"LMHeadModel", "text-generation"},
      {"ForCausalLM", "text-generation"},
      {"Model", "feature-extraction"},
  };
  for (const Suffix& s : kSuffixes)
    if (c.ends_with(s.suffix)) return s.task;
  return "";
}

}  // namespace kiln
