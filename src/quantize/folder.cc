// quantize_path's steps (quantize/quantize_path.h): files and folders, refusals, shared weights,
// atomic writes.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/tensor_json.h"
#include "graph/model_files.h"
#include "graph/onnx_io.h"
#include "kiln/cpu.h"
#include "quantize/calibration.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "quantize/quantize_model.h"
#include "quantize/quantize_path.h"

namespace kiln::quant {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSharedData = "weights.onnx_data";

int64_t bytes_of(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : (int64_t)n;
}

bool inside(const fs::path& child, const fs::path& parent) {
  auto rel = child.lexically_relative(parent);
  return !rel.empty() && *rel.begin() != "..";
}

Model load_input(const fs::path& p) {
  try {
    return load_model(p.string());
  } catch (const BadModel& e) {
    throw BadModel(fmt::format("{} is not a valid ONNX model ({}); give a .onnx file or a model folder", p.string(),
                               e.what()));
  }
}

void copy_atomic(const fs::path& from, const fs::path& to) {
  std::string tmp = to.string() + ".tmp";
  std::error_code ec;
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  KILN_CHECK(!ec, IoError, "cannot copy {} to {}: {}", from.string(), to.string(), ec.message());
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
  fs::rename(tmp, to, ec);
  KILN_CHECK(!ec, IoError, "cannot rename into {}: {}", to.string(), ec.message());
}

// The graph's inputs fed at run time (not initializers), for the labelled set.
std::vector<std::string> fed_inputs(const Model& m) {
  std::vector<std::string> names;
  for (const auto& in : m.graph.inputs)
    if (!m.graph.is_initializer(in.name)) names.push_back(in.name);
  return names;
}

void discover_folder(Discovery& d) {
  KILN_CHECK(d.out_dir != d.in, BadInput,
             "OUT is the input folder {}: give another folder (kiln never overwrites its input)", d.in_arg);
  KILN_CHECK(!inside(d.out_dir, d.in), BadInput, "OUT {} is inside the input folder {}: give a folder outside it",
             d.out_arg, d.in_arg);
  KILN_CHECK(!fs::exists(d.out_dir) || fs::is_directory(d.out_dir), BadInput,
             "{} is a file; for a model folder OUT must be a folder", d.out_arg);
  d.model_folder = ModelFolder::open(d.in.string());
  // The graphs keep their place: top level, or onnx/ (shared weights go beside them).
  d.graph_out = d.out_dir / fs::path(d.model_folder->graph_dir()).lexically_relative(d.in);
  for (const auto& n : d.model_folder->main_graphs())
    d.graphs.push_back({fs::path(d.model_folder->graph_dir()) / n, d.graph_out / n});
  KILN_CHECK(!d.graphs.empty(), BadInput,
             "{} holds no .onnx graph (looked for model.onnx, encoder_model.onnx, decoder_model.onnx, "
             "decoder_with_past_model.onnx, decoder_model_merged.onnx or any other .onnx, in it and in onnx/)",
             d.in_arg);
}

void discover_file(Discovery& d) {
  KILN_CHECK(d.in.extension() == ".onnx", BadInput,
             "{} is not an ONNX file (no .onnx extension); give a .onnx file or a model folder", d.in_arg);
  fs::path target = d.out_dir;
  if (target.extension() != ".onnx") target = target / d.in.filename();  // OUT names a folder
  KILN_CHECK(target != d.in, BadInput, "OUT would overwrite the input {}: give another path", d.in_arg);
  d.out_dir = target.parent_path();
  d.graph_out = d.out_dir;
  d.graphs.push_back({d.in, target});
}

void add_accuracy(const QuantizedGraph& g, Report& report) {
  if (!g.accuracy_tuned) return;
  const AccuracyResult& a = g.accuracy;
  report.accuracy_tuned = true;
  report.accuracy_fp32 = a.fp32;
  report.accuracy_all_quantized = a.quantized_all;
  report.accuracy_final = a.final;
  report.kept_float = a.kept_float;
  if (a.fp32 - a.final > report.options.accuracy_target)
    report.warnings.push_back(fmt::format("accuracy target not reached: {:.2f} % vs fp32 {:.2f} %", a.final, a.fp32));
}

}  // namespace

Discovery discover(const std::string& in_arg, const std::string& out_arg, const Options& options) {
  validate_options(options);
  KILN_CHECK(!in_arg.empty() && !out_arg.empty(), BadInput, "give an input (.onnx file or model folder) and an output");
  Discovery d;
  d.in_arg = in_arg;
  d.out_arg = out_arg;
  d.in = fs::weakly_canonical(fs::absolute(in_arg));
  KILN_CHECK(fs::exists(d.in), IoError, "{} does not exist; give a .onnx file or a model folder", in_arg);
  d.is_folder = fs::is_directory(d.in);
  d.out_dir = fs::weakly_canonical(fs::absolute(out_arg));
  if (d.is_folder) discover_folder(d);
  else discover_file(d);
  std::error_code ec;
  fs::create_directories(d.graph_out, ec);
  KILN_CHECK(!ec && fs::is_directory(d.graph_out), IoError, "cannot create the folder {}: {}", d.graph_out.string(),
             ec.message());
  KILN_CHECK(options.accuracy_target < 0 || d.graphs.size() == 1, Unsupported,
             "--accuracy-target works on single-graph classifiers (model.onnx); {} holds {} graphs", in_arg,
             d.graphs.size());
  return d;
}

QuantizedGraph quantize_graph(const GraphJob& job, const GraphContext& ctx) {
  const Options& options = ctx.options;
  const std::string name = job.in.filename().string();
  if (ctx.progress) ctx.progress(fmt::format("quantizing {}", name));
  Model model = load_input(job.in);
  promote_constant_weights(model.graph);           // Constant-node weights are calibrated like initializers
  materialize_tied_weights(model.graph, options);  // so are tied weights read through a Transpose
  Ranges ranges;
  if (options.is_static) {
    if (ctx.progress) ctx.progress(fmt::format("calibrating {}", name));
    ranges = calibrate(model, options, name, ctx.progress, ctx.calibration_dir);
  }
  QuantizedGraph out;
  Options gopt = options;
  if (options.accuracy_target >= 0) {
    KILN_CHECK(ctx.probe && *ctx.probe, Unsupported, "--accuracy-target needs kiln's evaluation (eval/), not built in");
    if (ctx.progress) ctx.progress(fmt::format("measuring node sensitivity of {}", name));
    auto probe = (*ctx.probe)(options.eval_data, fed_inputs(model));
    out.accuracy = tune_for_accuracy(model, options, *probe);
    out.accuracy_tuned = true;
    for (const auto& n : out.accuracy.kept_float) gopt.nodes_to_exclude.push_back(n);
  }
  FileReport& fr = out.file;
  fr.name = job.out.filename().string();
  fr.role = "graph";
  fr.bytes_before = graph_bytes(job.in.string(), ctx.counted);
  fr.stats = quantize_model(model, gopt, options.is_static ? &ranges : nullptr);
  SaveOptions so;
  so.shared_data = ctx.shared;
  so.defer_rename = &out.tmp;
  save_model(model, job.out.string(), so);
  fr.bytes_after = bytes_of(out.tmp.empty() ? job.out : fs::path(out.tmp));
  return out;
}

void write_folder(const Discovery& d, const Options& options, std::vector<QuantizedGraph>& graphs,
                  SharedExternalData* shared, Report& report) {
  if (shared) {
    shared->commit();
    FileReport fr;
    fr.name = kSharedData;
    fr.role = "weights";
    fr.bytes_after = shared->bytes_written();
    report.bytes_deduplicated = shared->bytes_deduplicated();
    report.files.push_back(fr);
  }
  std::error_code ec;
  for (size_t i = 0; i < graphs.size(); ++i) {
    std::string& tmp = graphs[i].tmp;
    if (tmp.empty()) continue;  // saved in place (no deferral possible)
    fs::rename(tmp, d.graphs[i].out, ec);
    KILN_CHECK(!ec, IoError, "cannot rename into {}: {}", d.graphs[i].out.string(), ec.message());
    tmp.clear();
  }
  if (!d.is_folder) return;
  for (const auto& n : d.model_folder->travelling_files()) {
    copy_atomic(d.in / n, d.out_dir / n);
    FileReport fr;
    fr.name = n;
    fr.role = "copied";
    fr.bytes_before = bytes_of(d.in / n);
    fr.bytes_after = bytes_of(d.out_dir / n);
    report.files.push_back(fr);
  }
  // A tokenizer.txt pointer names a folder relative to the model folder: keep it naming the same one.
  if (std::string pointer = d.model_folder->tokenizer_pointer_for(d.out_dir.string()); !pointer.empty()) {
    write_file_atomic((d.out_dir / "tokenizer.txt").string(), pointer);
    FileReport fr;
    fr.name = "tokenizer.txt";
    fr.role = "copied";
    report.files.push_back(fr);
  }
  write_file_atomic((d.out_dir / "kiln_quantize.json").string(), options_to_json(options).dump(2) + "\n");
  write_file_atomic((d.out_dir / "ort_config.json").string(), ort_config_json(options).dump(2) + "\n");
}

std::string cpu_advice(const Options& options) {
  if (options.activation_type == DType::U8 && options.weight_type == DType::I8 && !options.reduce_range &&
      !cpu_info().vnni)
    return "this CPU has no VNNI: ONNX Runtime's u8 x s8 kernels (AVX2/AVX-512 without VNNI) can saturate; if accuracy "
           "drops, quantize with --reduce-range (or the avx2 preset's u8 weights)";
  return "";
}

Report quantize_path_with(const std::string& in, const std::string& out, const Options& options,
                          const ProgressFn& progress, const AccuracyProbeMaker* probe) {
  auto t0 = std::chrono::steady_clock::now();
  Discovery d = discover(in, out, options);
  Report report;
  report.input = in;
  report.output = out;
  report.options = options;

  // Weights stored once across graphs: one external-data file for a folder of several graphs.
  std::unique_ptr<SharedExternalData> shared;
  if (d.is_folder && d.graphs.size() > 1 && options.share_weights)
    shared = std::make_unique<SharedExternalData>((d.graph_out / kSharedData).string());
  std::set<std::string> counted;  // external-data files shared by input graphs: counted once
  GraphContext ctx{options, d.is_folder ? d.in.string() : d.in.parent_path().string(), shared.get(), &counted, probe,
                   progress};
  std::vector<QuantizedGraph> done;
  try {
    for (const GraphJob& job : d.graphs) {
      done.push_back(quantize_graph(job, ctx));
      QuantizedGraph& g = done.back();
      add_accuracy(g, report);
      for (const auto& w : g.file.stats.warnings) report.warnings.push_back(g.file.name + ": " + w);
      report.files.push_back(g.file);
    }
    write_folder(d, options, done, shared.get(), report);
  } catch (...) {
    for (const auto& g : done)
      if (!g.tmp.empty()) std::remove(g.tmp.c_str());
    throw;
  }
  if (std::string advice = cpu_advice(options); !advice.empty()) report.warnings.push_back(advice);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Report quantize_path(const std::string& in, const std::string& out, const Options& options, const ProgressFn& progress,
                     const AccuracyProbeMaker& probe) {
  return quantize_path_with(in, out, options, progress, &probe);
}

}  // namespace kiln::quant
