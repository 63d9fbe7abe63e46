// kiln quantize IN OUT [--preset NAME] [...]: INT8 quantization of a .onnx file or a model folder.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "kiln/quantize.h"

KILN_COMMAND(quantize_command, "quantize", "Quantize a .onnx file or a whole model folder to INT8") {
  struct Opts {
    std::string in, out, preset, format, weight_type, activation_type, method, calibration;
    std::vector<std::string> ops, exclude, nodes;
    bool per_channel = false, reduce_range = false, embeddings = false, is_static = false, json = false;
    bool no_share = false, qdq_weight_pairs = false;
    bool p_vnni = false, p_avx512 = false, p_avx2 = false, p_arm64 = false, p_trt = false;
    double percentile = 99.999, accuracy_target = -1;
    std::string eval_data;
    int samples = 0, threads = 0;
    int64_t min_embedding = 0;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("IN", o->in, "a .onnx file or a model folder");
  sub.add_option("OUT", o->out, "output .onnx file or folder (never the input)");
  sub.add_option("--onnx_model", o->in, "same as IN (Optimum's spelling)");
  sub.add_option("-o,--output", o->out, "same as OUT (Optimum's spelling)");
  sub.add_option("--preset", o->preset, "avx512_vnni (default), avx512, avx2, arm64, tensorrt: Optimum's settings");
  sub.add_flag("--avx512_vnni", o->p_vnni, "preset avx512_vnni");
  sub.add_flag("--avx512", o->p_avx512, "preset avx512");
  sub.add_flag("--avx2", o->p_avx2, "preset avx2");
  sub.add_flag("--arm64", o->p_arm64, "preset arm64");
  sub.add_flag("--tensorrt", o->p_trt, "preset tensorrt (static, QDQ, s8/s8 symmetric)");
  sub.add_flag("--per-channel,--per_channel", o->per_channel, "weights per output channel (larger, more accurate)");
  sub.add_flag("--reduce-range,--reduce_range", o->reduce_range, "7-bit weights (avoids u8 x s8 saturation without VNNI)");
  sub.add_option("--format", o->format, "qoperator (dynamic default) or qdq (static default)");
  sub.add_option("--weight-type", o->weight_type, "int8 or uint8 (preset default)");
  sub.add_option("--activation-type", o->activation_type, "uint8 or int8 (static only)");
  sub.add_option("--ops", o->ops, "op types to quantize (default MatMul,Gemm; add Gather for embeddings)")->delimiter(',');
  sub.add_option("--exclude-nodes,--nodes_to_exclude", o->exclude, "node names to leave in float")->delimiter(',');
  sub.add_option("--nodes,--nodes_to_quantize", o->nodes, "only these node names")->delimiter(',');
  sub.add_flag("--quantize-embeddings", o->embeddings, "store embedding tables (Gather) int8 too");
  sub.add_option("--min-embedding-elements", o->min_embedding,
                 "leave embedding tables with fewer values in float (default 0: all, as ONNX Runtime)");
  sub.add_flag("--static,--is_static", o->is_static, "static quantization (needs --calibration-data)");
  sub.add_option("--calibration-data", o->calibration, "tensor JSON, JSON lines, or a folder of them");
  sub.add_option("--calibration-method", o->method, "minmax (default), entropy or percentile");
  sub.add_option("--percentile", o->percentile, "percentile for --calibration-method percentile (99.999)");
  sub.add_option("--calibration-samples", o->samples, "use at most N samples (0: all)");
  sub.add_option("--accuracy-target", o->accuracy_target,
                 "stay within POINTS (percent) of fp32 accuracy by leaving the most sensitive nodes float");
  sub.add_option("--eval-data", o->eval_data, "labelled JSON lines for --accuracy-target ({\"label\": N, inputs...})");
  sub.add_flag("--no-share-weights", o->no_share, "folder mode: give each graph its own weights");
  sub.add_flag("--qdq-weight-pairs", o->qdq_weight_pairs,
               "QDQ: keep each weight float with its own QuantizeLinear/DequantizeLinear pair (Optimum's tensorrt "
               "form, ONNX Runtime's AddQDQPairToWeight) instead of int8 weights + DequantizeLinear");
  sub.add_option("--threads", o->threads, "threads for calibration (0 = one per core)");
  sub.add_flag("--json", o->json, "print the summary as JSON");
  return [o] {
    using namespace kiln::quantize;
    KILN_CHECK(!o->in.empty() && !o->out.empty(), BadInput,
               "usage: kiln quantize IN OUT [--preset avx512_vnni] (IN: a .onnx file or a model folder)");
    std::string preset = o->preset;
    int flags = o->p_vnni + o->p_avx512 + o->p_avx2 + o->p_arm64 + o->p_trt;
    KILN_CHECK(flags + !preset.empty() <= 1, BadInput, "give one preset");
    if (o->p_vnni) preset = "avx512_vnni";
    if (o->p_avx512) preset = "avx512";
    if (o->p_avx2) preset = "avx2";
    if (o->p_arm64) preset = "arm64";
    if (o->p_trt) preset = "tensorrt";
    if (preset.empty()) preset = "avx512_vnni";
    Options opt = preset_options(preset, o->is_static);
    // Settings given as strings are parsed by the library (set_option), under their flag names.
    auto set = [&](const char* flag, const std::string& value) {
      if (!value.empty()) set_option(opt, flag, value);
    };
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
      return s;
    };
    if (o->per_channel) opt.per_channel = true;
    if (o->reduce_range) opt.reduce_range = true;
    if (o->qdq_weight_pairs) opt.qdq_add_pair_to_weight = true;
    set("--format", o->format);
    set("--weight-type", o->weight_type);
    set("--activation-type", o->activation_type);
    set("--ops", join(o->ops));
    if (o->embeddings) opt.quantize_embeddings = true;
    set("--min-embedding-elements", std::to_string(o->min_embedding));
    opt.nodes_to_exclude = o->exclude;
    opt.nodes_to_quantize = o->nodes;
    opt.calibration_data = o->calibration;
    set("--calibration-method", o->method);
    KILN_CHECK(opt.is_static || o->calibration.empty(), BadInput,
               "--calibration-data is for static quantization: add --static");
    opt.percentile = o->percentile;
    opt.calibration_samples = o->samples;
    opt.share_weights = !o->no_share;
    opt.accuracy_target = o->accuracy_target;
    opt.eval_data = o->eval_data;
    opt.threads = o->threads;
    bool tty = kiln::cli::stderr_is_tty();
    ProgressFn progress;
    if (tty) progress = [](const std::string& s) { std::fprintf(stderr, "\r\033[K%s", s.c_str()); };
    Report r = quantize_path(o->in, o->out, opt, progress);
    if (tty) std::fprintf(stderr, "\r\033[K");
    for (const auto& w : r.warnings) std::fprintf(stderr, "kiln: warning: %s\n", w.c_str());
    if (o->json) std::cout << report_json(r) << "\n";
    else std::cout << render_report(r);
    return 0;
  };
}
