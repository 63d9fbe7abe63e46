// Which files a model needs on disk, and how many bytes they hold: a graph with the external-data
// files its tensors name, and a model folder with its graphs, their data and the config and
// tokenizer files kiln reads. One count used by `kiln quantize`'s size report and by `kiln report`.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "kiln/model_folder.h"

namespace kiln {

// The external-data files (paths beside the graph) that the tensors of the graph at `onnx_path`
// name, subgraphs and Constant nodes included; each file once, sorted. Throws BadModel when the
// file is not ONNX.
std::vector<std::string> external_data_files(const std::string& onnx_path);

// Bytes of the graph file plus its external-data files; a data file already in `counted` (shared
// with a graph counted before) is not counted again, and the files counted are added to it.
int64_t graph_bytes(const std::string& onnx_path, std::set<std::string>* counted = nullptr);

// ModelFile and ModelFolderSize are public (kiln/model_folder.h, ModelFolder::size_on_disk).

// The files of a model folder the pipelines read: `graphs` (paths; when empty, every .onnx in DIR
// and DIR/onnx), each external-data file once, config.json, generation_config.json and the
// tokenizer files present (in DIR, or in the folder its tokenizer.txt names).
ModelFolderSize model_folder_size(const std::string& dir, const std::vector<std::string>& graphs = {});

}  // namespace kiln
