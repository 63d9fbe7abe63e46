// `kiln export`: a Hugging Face checkpoint folder (config.json + model.safetensors) -> ONNX model
// folder in Optimum's layout. Architectures are built with GraphBuilder from the config.
// ExportOptions, ExportResult and export_model() are public (include/kiln/export.h); this adds the
// architecture registry the builders use.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "export/weights.h"
#include "graph/graph.h"
#include "kiln/export.h"

namespace kiln::exporting {

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
// supported_architectures() and architecture_tasks() (public) read what was registered here.

}  // namespace kiln::exporting
