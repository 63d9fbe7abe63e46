#include "export/export.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/buffer.h"
#include "core/tensor_json.h"
#include "export/check_graph.h"
#include "export/checkpoint.h"
#include "export/fp16_weights.h"
#include "export/merge_decoders.h"
#include "export/model_files.h"
#include "export/tasks.h"
#include "graph/onnx_io.h"
#include "kiln/model_folder.h"

namespace fs = std::filesystem;

namespace kiln::exporting {

namespace {

struct Architecture {
  ArchitectureBuilder builder = nullptr;
  std::vector<std::string> tasks;  // empty: the builder checks the task itself
};

std::map<std::string, Architecture>& architectures() {
  static std::map<std::string, Architecture> m;
  return m;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The task to build: --task mapped to Optimum's current name, or (auto) the one config.json's
// `architectures` implies; refused, with the list to choose from, when the architecture lacks it.
std::string resolve_task(const std::string& requested, const nlohmann::json& config, const std::string& model_type,
                         const std::vector<std::string>& tasks, const std::string& config_path) {
  std::string task = canonical_task(requested);
  if (task == "auto") {
    std::string from;
    if (auto a = config.find("architectures"); a != config.end() && a->is_array())
      for (const auto& c : *a)
        if (c.is_string() && !task_for_class(c.get<std::string>()).empty()) {
          from = c.get<std::string>();
          task = task_for_class(from);
          break;
        }
    if (from.empty()) {
      // Optimum's default without a model class: the bare model.
      if (tasks.empty() || contains(tasks, "feature-extraction")) return tasks.empty() ? "auto" : "feature-extraction";
      return tasks.front();
    }
    KILN_CHECK(tasks.empty() || contains(tasks, task), Unsupported,
               "{}: --task auto: {} means task '{}', which {} export does not have (its tasks: {}); pass --task",
               config_path, from, task, model_type, join(tasks));
    return task;
  }
  std::vector<std::string> known = known_tasks();
  for (const auto& [_, a] : architectures())
    for (const auto& t : a.tasks)
      if (!contains(known, t)) known.push_back(t);
  KILN_CHECK(contains(known, task), BadInput, "--task {} is not a task kiln knows; choose one of: auto, {}", requested,
             join(known));
  KILN_CHECK(tasks.empty() || contains(tasks, task), Unsupported,
             "{}: {} cannot be exported for task '{}'; its tasks are: {}", config_path, model_type, task, join(tasks));
  return task;
}

nlohmann::json read_config(const fs::path& path) {
  KILN_CHECK(fs::exists(path), IoError, "{} not found: a checkpoint folder needs config.json", path.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw BadModel(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
  KILN_CHECK(j.is_object(), BadModel, "{} must hold a JSON object", path.string());
  return j;
}

}  // namespace

bool register_architecture(const std::string& model_type, ArchitectureBuilder builder, std::vector<std::string> tasks) {
  architectures()[model_type] = Architecture{builder, std::move(tasks)};
  return true;
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

}  // namespace kiln::exporting

namespace kiln {

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& [k, _] : exporting::architectures()) out.push_back(k);
  return out;
}

std::vector<std::string> architecture_tasks(const std::string& model_type) {
  auto it = exporting::architectures().find(model_type);
  return it == exporting::architectures().end() ? std::vector<std::string>{} : it->second.tasks;
}

ExportResult export_model(const std::string& src, const std::string& out_dir, const ExportOptions& options) {
  auto start = std::chrono::steady_clock::now();
  KILN_CHECK(options.opset >= 13 && options.opset <= 21, BadInput,
             "--opset {} is not supported: kiln exports opsets 13 to 21", options.opset);
  KILN_CHECK(options.dtype == "fp32" || options.dtype == "fp16", BadInput,
             "--dtype {} is not supported: choose fp32 or fp16", options.dtype);
  fs::path src_path(src);
  fs::path config_path = fs::is_directory(src_path) ? src_path / "config.json" : src_path;
  fs::path src_dir = fs::is_directory(src_path) ? src_path : src_path.parent_path();
  nlohmann::json config = exporting::read_config(config_path);
  const ModelFolder folder = ModelFolder::open(src_dir.string());  // what travels with the model
  std::string model_type = config.value("model_type", std::string());
  auto& archs = exporting::architectures();
  auto it = archs.find(model_type);
  if (it == archs.end()) {
    throw Unsupported(fmt::format("{}: model_type '{}' cannot be exported yet (supported: {})", config_path.string(),
                                  model_type, exporting::join(supported_architectures())));
  }
  ExportOptions resolved = options;
  resolved.task = exporting::resolve_task(options.task, config, model_type, it->second.tasks, config_path.string());
  KILN_CHECK(!fs::exists(out_dir) || (fs::is_directory(out_dir) && fs::is_empty(out_dir)), BadInput,
             "output folder {} exists and is not empty; choose a new folder", out_dir);
  KILN_CHECK(fs::weakly_canonical(out_dir) != fs::weakly_canonical(src_dir), BadInput,
             "the output folder must differ from the checkpoint folder");

  std::unique_ptr<exporting::WeightSource> weights;
  if (options.random_weights) {
    float stddev = config.value("initializer_range", 0.02f);
    weights = std::make_unique<exporting::RandomWeights>(stddev, options.seed);
  } else {
    weights = exporting::open_checkpoint(src_dir);
  }
  std::vector<exporting::ExportedGraph> graphs = it->second.builder(config, *weights, resolved);
  if (options.merged) exporting::add_merged_decoder(graphs, model_type);
  if (options.dtype == "fp16")
    for (auto& g : graphs) exporting::store_weights_fp16(g.model.graph);
  weights.reset();

  // Write everything into a temporary folder beside OUT, check it, then rename it into place.
  fs::path out(out_dir);
  fs::path tmp = out.string() + ".tmp." + std::to_string(::getpid());
  std::error_code made;
  fs::remove_all(tmp, made);
  if (!made) fs::create_directories(tmp, made);
  KILN_CHECK(!made, IoError, "cannot create the output folder {}: {}; choose a folder where you can write", out_dir,
             made.message());
  ExportResult result;
  result.model_type = model_type;
  result.task = resolved.task;
  try {
    for (auto& g : graphs) {
      SaveOptions so;
      so.external_data = options.external_data || g.model.graph.parameter_bytes() > ((int64_t)1800 << 20);
      std::string path = (tmp / g.file).string();
      save_model(g.model, path, so);
      result.files.push_back(g.file);
      if (so.external_data) result.files.push_back(g.file + ".data");
      result.parameters += g.model.graph.parameter_count();
      std::vector<ValueInfo> inputs = g.model.graph.inputs, outputs = g.model.graph.outputs;
      g.model = Model();  // the weights are in the file now; the check reads them back from it
      // Freed weights stay in the buffer cache for reuse at their sizes; the check's loading needs
      // other sizes, so give them back to the system first (at DistilBERT-base size: 170 MB).
      Buffer::release_cached();
      exporting::check_graph(path, inputs, outputs, config, std::move(g.check_feeds));
    }
    fs::copy_file(config_path, tmp / "config.json");  // as it is, whatever its file name
    result.files.push_back("config.json");
    bool generates = resolved.task == "text2text-generation" || resolved.task == "text-generation";
    for (const std::string& f : folder.travelling_files()) {
      if (f == "config.json") continue;  // copied above, from whatever file config_path names
      fs::copy_file(src_dir / f, tmp / f, fs::copy_options::overwrite_existing);
      result.files.push_back(f);
    }
    if (folder.generation_config_path().empty() && generates) {
      write_file_atomic((tmp / "generation_config.json").string(),
                        exporting::generation_config_from_model_config(config).dump(2) + "\n");
      result.files.push_back("generation_config.json");
    }
    // A tokenizer.txt pointer names a folder relative to the model folder: keep it naming the same one.
    if (std::string pointer = folder.tokenizer_pointer_for(out.string()); !pointer.empty()) {
      write_file_atomic((tmp / "tokenizer.txt").string(), pointer);
      result.files.push_back("tokenizer.txt");
    }
    for (const std::string& f : result.files) result.file_bytes.push_back((int64_t)fs::file_size(tmp / f));
    if (fs::exists(out)) fs::remove(out);  // empty, checked above
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kiln
