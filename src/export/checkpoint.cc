#include "export/checkpoint.h"

#include <nlohmann/json.hpp>

#include "core/tensor_json.h"
#include "export/safetensors.h"
#include "export/torch_checkpoint.h"

namespace kiln::exporting {

namespace fs = std::filesystem;

namespace {

using Reader = std::map<std::string, Tensor> (*)(const std::string& path);

std::map<std::string, Tensor> read_safetensors_tensors(const std::string& path) {
  return read_safetensors(path).tensors;
}

// An index's weight_map {tensor: shard file}: every shard is read once, and every tensor it names
// must be in its shard. Shards are plain file names beside the index.
std::map<std::string, Tensor> read_sharded(const fs::path& index_path, Reader read) {
  const std::string what = index_path.string();
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_file(what));
  } catch (const nlohmann::json::exception& e) {
    throw BadModel(fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
  KILN_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), BadModel,
             "{} has no weight_map object (tensor name -> shard file); is it a checkpoint index?", what);
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, file] : index["weight_map"].items()) {
    KILN_CHECK(file.is_string(), BadModel, "{}: weight_map['{}'] must be a file name", what, name);
    std::string f = file.get<std::string>();
    KILN_CHECK(!f.empty() && f != "." && f != ".." && f.find('/') == std::string::npos &&
                   f.find('\\') == std::string::npos,
               BadModel, "{}: weight_map['{}'] = '{}' is not a file name beside the index", what, name, f);
    by_shard[f].push_back(name);
  }
  KILN_CHECK(!by_shard.empty(), BadModel, "{}: weight_map is empty", what);
  std::map<std::string, Tensor> out;
  for (const auto& [shard, names] : by_shard) {
    fs::path p = index_path.parent_path() / shard;
    KILN_CHECK(fs::exists(p), IoError, "{} is missing: {} names it for '{}'{}; download every shard of the checkpoint",
               p.string(), index_path.filename().string(), names.front(),
               names.size() > 1 ? fmt::format(" and {} more tensors", names.size() - 1) : "");
    std::map<std::string, Tensor> tensors = read(p.string());
    for (const std::string& name : names) {
      auto it = tensors.find(name);
      KILN_CHECK(it != tensors.end(), BadModel, "{} has no tensor '{}', which {} places there; the shard is damaged or "
                 "does not belong to this index", p.string(), name, index_path.filename().string());
      out[name] = it->second;
    }
  }
  return out;
}

}  // namespace

CheckpointTensors read_checkpoint(const fs::path& dir) {
  const fs::path st = dir / "model.safetensors", st_index = dir / "model.safetensors.index.json";
  const fs::path bin = dir / "pytorch_model.bin", bin_index = dir / "pytorch_model.bin.index.json";
  if (fs::exists(st)) return {read_safetensors_tensors(st.string()), st.string()};
  if (fs::exists(st_index)) return {read_sharded(st_index, read_safetensors_tensors), st_index.string()};
  if (fs::exists(bin)) return {read_torch_checkpoint(bin.string()), bin.string()};
  if (fs::exists(bin_index)) return {read_sharded(bin_index, read_torch_checkpoint), bin_index.string()};
  for (const char* other : {"tf_model.h5", "tf_model.h5.index.json", "flax_model.msgpack",
                            "flax_model.msgpack.index.json", "model.ckpt.index"})
    KILN_CHECK(!fs::exists(dir / other), Unsupported,
               "{} holds {}, but kiln reads only model.safetensors and pytorch_model.bin (single or sharded); convert "
               "it with transformers: AutoModel.from_pretrained(dir, from_tf=True) (or from_flax=True), then "
               "save_pretrained(out, safe_serialization=True)",
               dir.string(), other);
  throw IoError(fmt::format("{} has no model.safetensors or pytorch_model.bin (nor a sharded index of either); "
                            "or pass --random-weights to export with random weights",
                            dir.string()));
}

std::unique_ptr<WeightSource> open_checkpoint(const fs::path& dir) {
  CheckpointTensors c = read_checkpoint(dir);
  return std::make_unique<CheckpointWeights>(std::move(c.tensors), std::move(c.source));
}

}  // namespace kiln::exporting
