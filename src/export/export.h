// `kiln export`: a Hugging Face checkpoint folder (config.json + model.safetensors) -> ONNX model
// folder in Optimum's layout. Architectures are built with GraphBuilder from the config.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "export/weights.h"
#include "graph/graph.h"

namespace kiln {

struct ExportOptions {
  // Optimum's task names (export/tasks.h); "auto" = from config.json's `architectures`. Builders
  // receive the resolved, canonical name (aliases and -with-past spellings mapped).
  std::string task = "auto";
  int64_t opset = 17;  // 13 to 21
  bool random_weights = false;  // initialise like transformers' _init_weights instead of loading
  uint64_t seed = 1234;
  // Store weights in model.onnx.data beside each graph (always done above 2 GB): loads are then
  // zero-copy memory maps.
  bool external_data = false;
  // Also write decoder_model_merged.onnx (decoder + decoder_with_past behind one If on
  // use_cache_branch), as Optimum does; for architectures that export both decoder graphs.
  bool merged = false;
  // How float weights are stored: "fp32" (checkpoints in fp16/bf16 are upcast), or "fp16" (float16
  // initializers, each followed by a Cast to float32: half the file, float32 compute; see
  // export/fp16_weights.h).
  std::string dtype = "fp32";
};

struct ExportedGraph {
  std::string file;  // e.g. "model.onnx"
  Model model;
  // Feeds for the run that checks the written graph (export.cc's check_graph). Left empty, they are
  // made from the declared inputs: batch_size 2, sequence lengths 8, past lengths 3.
  NamedTensors check_feeds = {};
};

// Builds the graphs of one architecture. `config` is config.json.
using ArchitectureBuilder =
    std::vector<ExportedGraph> (*)(const nlohmann::json& config, WeightSource& weights, const ExportOptions& options);

// `tasks` (Optimum's names) are checked centrally: --task auto picks among them and any other task
// is refused with this list. A builder registered without tasks checks the task itself.
bool register_architecture(const std::string& model_type, ArchitectureBuilder builder,
                           std::vector<std::string> tasks = {});
std::vector<std::string> supported_architectures();
// The tasks model_type was registered with (empty when unknown or undeclared).
std::vector<std::string> architecture_tasks(const std::string& model_type);

struct ExportResult {
  std::vector<std::string> files;  // written, relative to the output folder
  std::vector<int64_t> file_bytes;  // the size of each of `files`
  int64_t parameters = 0;
  std::string model_type, task;  // task as resolved (auto and aliases mapped)
  double seconds = 0;  // building, writing and checking
};

// SRC is a checkpoint folder, or (with random_weights) a folder or a config.json file.
// Writes OUT/<graphs>, config.json, generation_config.json, tokenizer files; refuses an existing
// non-empty OUT. Every graph is run once in kiln before OUT appears.
ExportResult export_model(const std::string& src, const std::string& out_dir, const ExportOptions& options);

}  // namespace kiln
