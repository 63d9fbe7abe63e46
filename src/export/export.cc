#include "export/export.h"

#include <unistd.h>

#include <filesystem>

#include "core/tensor_json.h"
#include "export/checkpoint.h"
#include "export/merge_decoders.h"
#include "graph/onnx_io.h"

namespace kiln {

namespace fs = std::filesystem;

static std::map<std::string, ArchitectureBuilder>& architectures() {
  static std::map<std::string, ArchitectureBuilder> m;
  return m;
}

bool register_architecture(const std::string& model_type, ArchitectureBuilder builder) {
  architectures()[model_type] = builder;
  return true;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& [k, _] : architectures()) out.push_back(k);
  return out;
}

static nlohmann::json read_config(const fs::path& path) {
  KILN_CHECK(fs::exists(path), IoError, "{} not found: a checkpoint folder needs config.json", path.string());
  try {
    return nlohmann::json::parse(read_file(path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw BadModel(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
}

static void add_merged_decoder(std::vector<ExportedGraph>& graphs, const std::string& model_type) {
  const Model *plain = nullptr, *past = nullptr;
  for (const auto& g : graphs) {
    if (g.file == "decoder_model.onnx") plain = &g.model;
    if (g.file == "decoder_with_past_model.onnx") past = &g.model;
  }
  KILN_CHECK(plain && past, Unsupported,
             "--merged needs decoder_model.onnx and decoder_with_past_model.onnx, which a {} export does not write; "
             "drop --merged",
             model_type);
  Model merged = merge_decoders(*plain, *past);
  graphs.push_back({"decoder_model_merged.onnx", std::move(merged)});
}

ExportResult export_model(const std::string& src, const std::string& out_dir, const ExportOptions& options) {
  fs::path src_path(src);
  fs::path config_path = fs::is_directory(src_path) ? src_path / "config.json" : src_path;
  fs::path src_dir = fs::is_directory(src_path) ? src_path : src_path.parent_path();
  nlohmann::json config = read_config(config_path);
  std::string model_type = config.value("model_type", std::string());
  auto& archs = architectures();
  auto it = archs.find(model_type);
  if (it == archs.end()) {
    std::string list;
    for (const auto& [k, _] : archs) list += (list.empty() ? "" : ", ") + k;
    throw Unsupported(fmt::format("{}: model_type '{}' cannot be exported yet (supported: {})", config_path.string(),
                                  model_type, list));
  }
  KILN_CHECK(!fs::exists(out_dir) || (fs::is_directory(out_dir) && fs::is_empty(out_dir)), BadInput,
             "output folder {} exists and is not empty; choose a new folder", out_dir);
  KILN_CHECK(fs::weakly_canonical(out_dir) != fs::weakly_canonical(src_dir), BadInput,
             "the output folder must differ from the checkpoint folder");

  std::unique_ptr<WeightSource> weights;
  if (options.random_weights) {
    float stddev = config.value("initializer_range", 0.02f);
    weights = std::make_unique<RandomWeights>(stddev, options.seed);
  } else {
    weights = open_checkpoint(src_dir);
  }
  std::vector<ExportedGraph> graphs = it->second(config, *weights, options);
  if (options.merged) add_merged_decoder(graphs, model_type);

  // Write everything into a temporary folder beside OUT, then rename it into place.
  fs::path out(out_dir);
  fs::path tmp = out.string() + ".tmp." + std::to_string(::getpid());
  std::error_code made;
  fs::remove_all(tmp, made);
  if (!made) fs::create_directories(tmp, made);
  KILN_CHECK(!made, IoError, "cannot create the output folder {}: {}; choose a folder where you can write", out_dir,
             made.message());
  ExportResult result;
  try {
    for (auto& g : graphs) {
      SaveOptions so;
      so.external_data = options.external_data || g.model.graph.parameter_bytes() > ((int64_t)1800 << 20);
      save_model(g.model, (tmp / g.file).string(), so);
      result.files.push_back(g.file);
      if (so.external_data) result.files.push_back(g.file + ".data");
      result.parameters += g.model.graph.parameter_count();
    }
    static const char* extra[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                  "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
                                  "spiece.model", "sentencepiece.bpe.model", "added_tokens.json"};
    for (const char* f : extra)
      if (fs::exists(src_dir / f)) {
        fs::copy_file(src_dir / f, tmp / f);
        result.files.push_back(f);
      }
    if (!fs::exists(tmp / "config.json")) {
      write_file_atomic((tmp / "config.json").string(), config.dump(2) + "\n");
      result.files.push_back("config.json");
    }
    if (fs::exists(out)) fs::remove(out);  // empty, checked above
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return result;
}

}  // namespace kiln
