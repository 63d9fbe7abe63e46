// quantize_path (kiln/quantize.h) in its steps, one job each:
//   discover()        path rules and refusals, which graphs go where (no file written but OUT's folder);
//   quantize_graph()  one graph: load, calibrate, tune for accuracy, quantize, save to a temporary name;
//   write_folder()    shared weights, the renames, the files that travel with a folder, kiln_quantize.json;
//   cpu_advice()      what this CPU means for the chosen types.
// quantize_path_with() runs them. The public quantize_path with a probe maker (folder.cc) is its
// front door; the plain public quantize_path (eval/quantize_entry.cc) calls that with eval's
// labelled-set probe for --accuracy-target.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph/external_data.h"
#include "kiln/model_folder.h"
#include "kiln/quantize.h"
#include "quantize/accuracy_target.h"

namespace kiln::quant {

struct GraphJob {
  std::filesystem::path in, out;  // the input graph and where its quantized form goes
};

// What one run works on.
struct Discovery {
  std::string in_arg, out_arg;  // as given (for messages and the report)
  std::filesystem::path in;     // the input, canonical
  bool is_folder = false;       // a model folder (else one .onnx file)
  std::optional<ModelFolder> model_folder;
  std::filesystem::path out_dir;    // the folder written into
  std::filesystem::path graph_out;  // where the graphs go (out_dir, or out_dir/onnx)
  std::vector<GraphJob> graphs;
};

// Checks the paths and options (BadInput for refusals, IoError), finds the graphs, creates the
// folder the graphs go to.
Discovery discover(const std::string& in, const std::string& out, const Options& options);

// A graph quantized and saved under a temporary name, not yet renamed into place.
struct QuantizedGraph {
  FileReport file;
  std::string tmp;  // the temporary file ("" when saved in place)
  // --accuracy-target only: what the tuning found (accuracy_tuned false otherwise).
  bool accuracy_tuned = false;
  AccuracyResult accuracy;
};

// Everything quantize_graph needs besides the graph.
struct GraphContext {
  const Options& options;
  std::string calibration_dir;                // where calibration looks for the tokenizer
  SharedExternalData* shared = nullptr;       // weights stored once across graphs (may be null)
  std::set<std::string>* counted = nullptr;   // external data counted before (shared by input graphs)
  const AccuracyProbeMaker* probe = nullptr;  // for options.accuracy_target >= 0
  const ProgressFn& progress;
};

QuantizedGraph quantize_graph(const GraphJob& job, const GraphContext& ctx);

// Commits the shared weights, renames every temporary graph into place, and for a folder copies the
// files that travel with the model and writes kiln_quantize.json and ort_config.json. Adds what it
// writes to `report`.
void write_folder(const Discovery& d, const Options& options, std::vector<QuantizedGraph>& graphs,
                  SharedExternalData* shared, Report& report);

// A warning for settings this CPU runs badly in ONNX Runtime ("" when none).
std::string cpu_advice(const Options& options);

// quantize_path with the probe --accuracy-target scores with (null: the target is refused).
Report quantize_path_with(const std::string& in, const std::string& out, const Options& options,
                          const ProgressFn& progress, const AccuracyProbeMaker* probe);

}  // namespace kiln::quant
