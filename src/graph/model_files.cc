// Files of a model on disk and their sizes (see model_files.h).
#include "graph/model_files.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/buffer.h"
#include "core/error.h"
#include "core/tensor_json.h"
#include "kiln/model_folder.h"
#include "onnx/onnx_pb.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

void add_location(const onnx::TensorProto& t, std::set<std::string>& out) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
  for (const auto& kv : t.external_data())
    if (kv.key() == "location" && !kv.value().empty()) out.insert(kv.value());
}

void collect(const onnx::GraphProto& g, std::set<std::string>& out);

void collect_attribute(const onnx::AttributeProto& a, std::set<std::string>& out) {
  if (a.has_t()) add_location(a.t(), out);
  for (const auto& t : a.tensors()) add_location(t, out);
  if (a.has_g()) collect(a.g(), out);
  for (const auto& g : a.graphs()) collect(g, out);
}

void collect(const onnx::GraphProto& g, std::set<std::string>& out) {
  for (const auto& t : g.initializer()) add_location(t, out);
  for (const auto& s : g.sparse_initializer()) add_location(s.values(), out), add_location(s.indices(), out);
  for (const auto& n : g.node())
    for (const auto& a : n.attribute()) collect_attribute(a, out);
}

int64_t file_bytes(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : (int64_t)n;
}

}  // namespace

std::vector<std::string> external_data_files(const std::string& onnx_path) {
  auto file = MappedFile::open(onnx_path);
  KILN_CHECK(file->size() > 0 && file->size() < (size_t)INT32_MAX, BadModel,
             "{} is not a valid ONNX model (empty or over 2 GB)", onnx_path);
  onnx::ModelProto mp;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(file->data()), (int)file->size());
  in.SetRecursionLimit(100);
  KILN_CHECK(mp.ParseFromCodedStream(&in) && in.ConsumedEntireMessage(), BadModel,
             "{} is not a valid ONNX model (protobuf parse failed)", onnx_path);
  std::set<std::string> locations;
  collect(mp.graph(), locations);
  for (const auto& f : mp.functions())
    for (const auto& n : f.node())
      for (const auto& a : n.attribute()) collect_attribute(a, locations);
  std::vector<std::string> out;
  const fs::path base = fs::path(onnx_path).parent_path();
  for (const auto& loc : locations) out.push_back((base / loc).lexically_normal().string());
  return out;
}

int64_t graph_bytes(const std::string& onnx_path, std::set<std::string>* counted) {
  int64_t n = file_bytes(onnx_path);
  for (const auto& d : external_data_files(onnx_path)) {
    std::string key = fs::weakly_canonical(d).string();
    if (counted && !counted->insert(key).second) continue;
    n += file_bytes(d);
  }
  return n;
}

ModelFolderSize model_folder_size(const std::string& dir_arg, const std::vector<std::string>& graphs_arg) {
  const fs::path dir(dir_arg);
  KILN_CHECK(fs::is_directory(dir), IoError, "model folder {} does not exist (or is not a folder)", dir_arg);
  const ModelFolder folder = ModelFolder::open(dir_arg);
  std::vector<std::string> graphs = graphs_arg;
  if (graphs.empty())
    for (const auto& g : folder.graphs()) graphs.push_back((fs::path(folder.graph_dir()) / g).string());
  ModelFolderSize s;
  std::set<std::string> seen;
  auto add = [&](const fs::path& p, const char* role) {
    if (!fs::is_regular_file(p) || !seen.insert(fs::weakly_canonical(p).string()).second) return;
    s.files.push_back({p.string(), role, file_bytes(p)});
    s.total_bytes += s.files.back().bytes;
  };
  for (const auto& g : graphs) {
    add(g, "graph");
    for (const auto& d : external_data_files(g)) add(d, "weights");
  }
  s.graph_bytes = s.total_bytes;
  for (const char* f : {"config.json", "generation_config.json"}) add(dir / f, "config");
  for (const auto& f : folder.tokenizer_paths()) add(f, "tokenizer");
  return s;
}

ModelFolderSize ModelFolder::size_on_disk(const std::string& file) const {
  std::vector<std::string> graphs;
  for (const auto& stem : graph_stems())
    if (auto p = graph(stem, file)) graphs.push_back(*p);
  return model_folder_size(path(), graphs);
}

}  // namespace kiln
