// kiln export SRC OUT [--task T] [--opset N] [--random-weights [--seed S]] [--external-data] [--merged]
#include <cstdio>

#include "cli/command.h"
#include "export/export.h"

KILN_COMMAND(export_command, "export", "Export a Hugging Face checkpoint folder to an ONNX model folder") {
  struct Opts {
    std::string src, out;
    kiln::ExportOptions options;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("src", o->src, "checkpoint folder (config.json + model.safetensors or pytorch_model.bin, single or sharded), or config.json with --random-weights")
      ->required();
  sub.add_option("out", o->out, "new output folder")->required();
  sub.add_option("--task", o->options.task, "text-classification | feature-extraction | text2text-generation | text-generation | auto");
  sub.add_option("--opset", o->options.opset, "ONNX opset (17 or later)");
  sub.add_flag("--random-weights", o->options.random_weights,
               "initialise weights randomly (transformers' scheme) instead of reading a checkpoint");
  sub.add_option("--seed", o->options.seed, "seed for --random-weights");
  sub.add_flag("--external-data", o->options.external_data,
               "keep weights in <graph>.onnx.data (zero-copy loading; always done above 2 GB)");
  sub.add_flag("--merged", o->options.merged,
               "also write decoder_model_merged.onnx (both decoders behind one If on use_cache_branch)");
  return [o] {
    KILN_CHECK(o->options.opset >= 17 && o->options.opset <= 21, BadInput,
               "--opset {} is not supported: kiln exports opsets 17 to 21", o->options.opset);
    kiln::ExportResult r = kiln::export_model(o->src, o->out, o->options);
    std::printf("exported %lld parameters to %s:", (long long)r.parameters, o->out.c_str());
    for (const auto& f : r.files) std::printf(" %s", f.c_str());
    std::printf("\n");
    return 0;
  };
}
