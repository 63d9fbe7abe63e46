// kiln/export.h: a Hugging Face checkpoint folder (config.json + model.safetensors or
// pytorch_model.bin) -> an ONNX model folder in Optimum's layout, as `optimum-cli export onnx` writes.
//
//   kiln::ExportResult r = kiln::export_model("hf_checkpoint", "out_dir", {.task = "auto"});
//   // r.files: "model.onnx" (or encoder_model.onnx, decoder_model.onnx, ...), config.json, tokenizer files
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/api.h"

namespace kiln {

struct ExportOptions {
  // Optimum's task names; "auto" = from config.json's `architectures`. Aliases and -with-past
  // spellings are accepted.
  std::string task = "auto";
  int64_t opset = 17;           // 13 to 21
  bool random_weights = false;  // initialise like transformers' _init_weights instead of loading
  uint64_t seed = 1234;
  // Store weights in model.onnx.data beside each graph (always done above 2 GB): loads are then
  // zero-copy memory maps.
  bool external_data = false;
  // Also write decoder_model_merged.onnx (decoder + decoder_with_past behind one If on
  // use_cache_branch), as Optimum does; for architectures that export both decoder graphs.
  bool merged = false;
  // How float weights are stored: "fp32" (checkpoints in fp16/bf16 are upcast), or "fp16" (float16
  // initializers, each followed by a Cast to float32: half the file, float32 compute).
  std::string dtype = "fp32";
};

struct ExportResult {
  std::vector<std::string> files;   // written, relative to the output folder
  std::vector<int64_t> file_bytes;  // the size of each of `files`
  int64_t parameters = 0;
  std::string model_type, task;  // task as resolved (auto and aliases mapped)
  double seconds = 0;            // building, writing and checking
};

// SRC is a checkpoint folder, or (with random_weights) a folder or a config.json file.
// Writes OUT/<graphs>, config.json, generation_config.json, tokenizer files; refuses an existing
// non-empty OUT. Every graph is run once in kiln before OUT appears, and nothing is left behind
// on failure. Throws BadInput (options, OUT), BadModel (the checkpoint), Unsupported (an
// architecture or task kiln does not export), IoError.
KILN_API ExportResult export_model(const std::string& src, const std::string& out_dir, const ExportOptions& options);

// The config.json model_type values kiln exports ("bert", "t5", ...).
KILN_API std::vector<std::string> supported_architectures();
// The tasks model_type exports to (empty when unknown).
KILN_API std::vector<std::string> architecture_tasks(const std::string& model_type);

}  // namespace kiln
