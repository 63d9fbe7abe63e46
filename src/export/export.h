// `kiln export`: a Hugging Face checkpoint folder (config.json + model.safetensors) -> ONNX model
// folder in Optimum's layout. Architectures are built with GraphBuilder from the config.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/weights.h"
#include "graph/graph.h"

namespace kiln {

struct ExportOptions {
  std::string task = "auto";  // text-classification, feature-extraction, ... ("auto" = from config)
  int64_t opset = 17;
  bool random_weights = false;  // initialise like transformers' _init_weights instead of loading
  uint64_t seed = 1234;
  // Store weights in model.onnx.data beside each graph (always done above 2 GB): loads are then
  // zero-copy memory maps.
  bool external_data = false;
  // Also write decoder_model_merged.onnx (decoder + decoder_with_past behind one If on
  // use_cache_branch), as Optimum does; for architectures that export both decoder graphs.
  bool merged = false;
};

struct ExportedGraph {
  std::string file;  // e.g. "model.onnx"
  Model model;
};

// Builds the graphs of one architecture. `config` is config.json.
using ArchitectureBuilder =
    std::vector<ExportedGraph> (*)(const nlohmann::json& config, WeightSource& weights, const ExportOptions& options);

bool register_architecture(const std::string& model_type, ArchitectureBuilder builder);
std::vector<std::string> supported_architectures();

struct ExportResult {
  std::vector<std::string> files;  // written, relative to the output folder
  int64_t parameters = 0;
};

// SRC is a checkpoint folder, or (with random_weights) a folder or a config.json file.
// Writes OUT/<graphs>, config.json, tokenizer files; refuses an existing non-empty OUT.
ExportResult export_model(const std::string& src, const std::string& out_dir, const ExportOptions& options);

}  // namespace kiln
