// kiln export SRC OUT [--task T] [--opset N] [--random-weights [--seed S]] [--external-data] [--merged] [--dtype fp32|fp16]
#include <cstdio>

#include <fmt/format.h>

#include "cli/command.h"
#include "kiln/export.h"

namespace {

std::string size_str(int64_t bytes) {
  if (bytes >= (int64_t)1 << 30) return fmt::format("{:.2f} GiB", (double)bytes / (1 << 30));
  if (bytes >= (int64_t)1 << 20) return fmt::format("{:.1f} MiB", (double)bytes / (1 << 20));
  if (bytes >= 1024) return fmt::format("{:.1f} KiB", (double)bytes / 1024);
  return fmt::format("{} B", bytes);
}

}  // namespace

KILN_COMMAND(export_command, "export", "Export a Hugging Face checkpoint folder to an ONNX model folder") {
  struct Opts {
    std::string src, out;
    kiln::ExportOptions options;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("src", o->src, "checkpoint folder (config.json + model.safetensors or pytorch_model.bin, single or sharded), or config.json with --random-weights")
      ->required();
  sub.add_option("out", o->out, "new output folder")->required();
  sub.add_option("--task", o->options.task,
                 "auto (from config.json's architectures), feature-extraction, text-classification, "
                 "token-classification, question-answering, fill-mask, text2text-generation, text-generation "
                 "(Optimum's names; -with-past spellings accepted)");
  sub.add_option("--opset", o->options.opset, "ONNX opset, 13 to 21 (default 17)");
  sub.add_flag("--random-weights", o->options.random_weights,
               "initialise weights randomly (transformers' scheme) instead of reading a checkpoint");
  sub.add_option("--seed", o->options.seed, "seed for --random-weights");
  sub.add_flag("--external-data", o->options.external_data,
               "keep weights in <graph>.onnx.data (zero-copy loading; always done above 2 GB)");
  sub.add_flag("--merged", o->options.merged,
               "also write decoder_model_merged.onnx (both decoders behind one If on use_cache_branch)");
  sub.add_option("--dtype", o->options.dtype,
                 "fp32 (default), or fp16: float weights stored as float16, each cast back to float32 in the "
                 "graph (half the file; computation stays float32)");
  return [o] {
    kiln::ExportResult r = kiln::export_model(o->src, o->out, o->options);
    std::printf("exported %s (%s, opset %lld) to %s in %.1f s: %lld parameters\n", r.model_type.c_str(),
                r.task.c_str(), (long long)o->options.opset, o->out.c_str(), r.seconds, (long long)r.parameters);
    for (size_t i = 0; i < r.files.size(); ++i)
      std::printf("  %-28s %10s\n", r.files[i].c_str(), size_str(r.file_bytes[i]).c_str());
    return 0;
  };
}
