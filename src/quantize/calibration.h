// Static quantization's calibration: run the float graph in kiln's runtime over sample inputs and
// collect the range of every activation a quantized node will read.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor_json.h"
#include "quantize/context.h"
#include "quantize/options.h"

namespace kiln::quantize {

// Samples (named feeds) for one graph from options.calibration_data:
// - a .json file: one tensor-JSON object ({name: {dtype, dims, data}}) or an array of them;
// - a .jsonl file: one tensor-JSON object per line, or {"text": "...", ["text_pair": "..."]} lines
//   tokenized with the model folder's tokenizer (input_ids / attention_mask / token_type_ids,
//   batch 1, at most 512 tokens);
// - a .txt file: one text per line (tokenized likewise);
// - a folder: every *.json file in it (sorted), or, when it holds `<graph stem>.jsonl` /
//   `<graph stem>/`, those for the graph (how a seq2seq folder gets per-graph samples).
// Feeds that the graph does not take are dropped; a missing graph input is a BadInput error.
std::vector<NamedTensors> load_calibration_samples(const std::string& data, const Model& model,
                                                   const std::string& graph_file, int max_samples,
                                                   const std::string& model_dir = "");

// Runs the model over the samples and returns the range of each value values_to_calibrate names
// (those inside subgraphs are not reachable and get none).
Ranges calibrate(const Model& model, const Options& options, const std::string& graph_file,
                 const std::function<void(const std::string&)>& progress = {}, const std::string& model_dir = "");

}  // namespace kiln::quantize
