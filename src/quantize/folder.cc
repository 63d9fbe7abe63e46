// quantize_path: files and folders, refusals, shared weights, atomic writes.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/tensor_json.h"
#include "graph/external_data.h"
#include "graph/model_files.h"
#include "graph/onnx_io.h"
#include "kiln/cpu.h"
#include "kiln/model_folder.h"
#include "quantize/accuracy_target.h"
#include "quantize/calibration.h"
#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "quantize/quantize_model.h"

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

}  // namespace

Report quantize_path(const std::string& in_arg, const std::string& out_arg, const Options& options,
                     const ProgressFn& progress) {
  auto t0 = std::chrono::steady_clock::now();
  validate_options(options);
  KILN_CHECK(!in_arg.empty() && !out_arg.empty(), BadInput, "give an input (.onnx file or model folder) and an output");
  fs::path in = fs::weakly_canonical(fs::absolute(in_arg));
  KILN_CHECK(fs::exists(in), IoError, "{} does not exist; give a .onnx file or a model folder", in_arg);
  bool folder = fs::is_directory(in);
  fs::path out = fs::weakly_canonical(fs::absolute(out_arg));

  // Which graphs, and where each goes.
  std::vector<std::pair<fs::path, fs::path>> graphs;  // (input, output)
  fs::path out_dir, graph_out;
  std::optional<ModelFolder> model_folder;
  if (folder) {
    KILN_CHECK(out != in, BadInput, "OUT is the input folder {}: give another folder (kiln never overwrites its input)",
               in_arg);
    KILN_CHECK(!inside(out, in), BadInput,
               "OUT {} is inside the input folder {}: give a folder outside it", out_arg, in_arg);
    KILN_CHECK(!fs::exists(out) || fs::is_directory(out), BadInput,
               "{} is a file; for a model folder OUT must be a folder", out_arg);
    out_dir = out;
    model_folder = ModelFolder::open(in.string());
    // The graphs keep their place: top level, or onnx/ (shared weights go beside them).
    graph_out = out / fs::path(model_folder->graph_dir()).lexically_relative(in);
    for (const auto& n : model_folder->main_graphs())
      graphs.push_back({fs::path(model_folder->graph_dir()) / n, graph_out / n});
    KILN_CHECK(!graphs.empty(), BadInput,
               "{} holds no .onnx graph (looked for model.onnx, encoder_model.onnx, decoder_model.onnx, "
               "decoder_with_past_model.onnx, decoder_model_merged.onnx or any other .onnx, in it and in onnx/)",
               in_arg);
  } else {
    KILN_CHECK(in.extension() == ".onnx", BadInput,
               "{} is not an ONNX file (no .onnx extension); give a .onnx file or a model folder", in_arg);
    fs::path target = out;
    if (out.extension() != ".onnx") target = out / in.filename();  // OUT names a folder
    KILN_CHECK(target != in, BadInput, "OUT would overwrite the input {}: give another path", in_arg);
    out_dir = target.parent_path();
    graphs.push_back({in, target});
  }
  std::error_code ec;
  if (graph_out.empty()) graph_out = out_dir;
  fs::create_directories(graph_out, ec);
  KILN_CHECK(!ec && fs::is_directory(graph_out), IoError, "cannot create the folder {}: {}", graph_out.string(),
             ec.message());

  KILN_CHECK(options.accuracy_target < 0 || graphs.size() == 1, Unsupported,
             "--accuracy-target works on single-graph classifiers (model.onnx); {} holds {} graphs", in_arg,
             graphs.size());
  Report report;
  report.input = in_arg;
  report.output = out_arg;
  report.options = options;

  // Weights stored once across graphs: one external-data file for a folder of several graphs.
  std::unique_ptr<SharedExternalData> shared;
  if (folder && graphs.size() > 1 && options.share_weights)
    shared = std::make_unique<SharedExternalData>((graph_out / kSharedData).string());

  std::vector<std::pair<std::string, fs::path>> pending;  // temp file -> final path
  std::set<std::string> counted_before;  // external-data files shared by input graphs: counted once
  auto cleanup = [&] {
    for (auto& [tmp, final_path] : pending) std::remove(tmp.c_str());
  };
  try {
    for (auto& [src, dst] : graphs) {
      if (progress) progress(fmt::format("quantizing {}", src.filename().string()));
      Model model = load_input(src);
      promote_constant_weights(model.graph);  // Constant-node weights are calibrated like initializers
      materialize_tied_weights(model.graph, options);  // so are tied weights read through a Transpose
      Ranges ranges;
      if (options.is_static) {
        if (progress) progress(fmt::format("calibrating {}", src.filename().string()));
        ranges = calibrate(model, options, src.filename().string(), progress,
                           folder ? in.string() : src.parent_path().string());
      }
      Options gopt = options;
      if (options.accuracy_target >= 0) {
        if (progress) progress(fmt::format("measuring node sensitivity of {}", src.filename().string()));
        AccuracyResult a = tune_for_accuracy(model, options, load_eval_data(options.eval_data, model));
        report.accuracy_tuned = true;
        report.accuracy_fp32 = a.fp32;
        report.accuracy_all_quantized = a.quantized_all;
        report.accuracy_final = a.final;
        report.kept_float = a.kept_float;
        for (const auto& n : a.kept_float) gopt.nodes_to_exclude.push_back(n);
        if (a.fp32 - a.final > options.accuracy_target)
          report.warnings.push_back(fmt::format("accuracy target not reached: {:.2f} % vs fp32 {:.2f} %", a.final, a.fp32));
      }
      FileReport fr;
      fr.name = dst.filename().string();
      fr.role = "graph";
      fr.bytes_before = graph_bytes(src.string(), &counted_before);
      fr.stats = quantize_model(model, gopt, options.is_static ? &ranges : nullptr);
      for (const auto& w : fr.stats.warnings) report.warnings.push_back(fr.name + ": " + w);
      SaveOptions so;
      so.shared_data = shared.get();
      std::string tmp;
      so.defer_rename = &tmp;
      save_model(model, dst.string(), so);
      if (tmp.empty()) tmp = dst.string();  // saved in place (no deferral possible)
      pending.push_back({tmp, dst});
      fr.bytes_after = bytes_of(tmp);
      report.files.push_back(std::move(fr));
    }
    if (shared) {
      shared->commit();
      FileReport fr;
      fr.name = kSharedData;
      fr.role = "weights";
      fr.bytes_after = shared->bytes_written();
      report.bytes_deduplicated = shared->bytes_deduplicated();
      report.files.push_back(fr);
    }
    for (auto& [tmp, final_path] : pending) {
      if (tmp == final_path.string()) continue;
      fs::rename(tmp, final_path, ec);
      KILN_CHECK(!ec, IoError, "cannot rename into {}: {}", final_path.string(), ec.message());
    }
    pending.clear();
  } catch (...) {
    cleanup();
    throw;
  }

  if (folder) {
    for (const auto& n : model_folder->travelling_files()) {
      copy_atomic(in / n, out_dir / n);
      FileReport fr;
      fr.name = n;
      fr.role = "copied";
      fr.bytes_before = bytes_of(in / n);
      fr.bytes_after = bytes_of(out_dir / n);
      report.files.push_back(fr);
    }
    // A tokenizer.txt pointer names a folder relative to the model folder: keep it naming the same one.
    if (std::string pointer = model_folder->tokenizer_pointer_for(out_dir.string()); !pointer.empty()) {
      write_file_atomic((out_dir / "tokenizer.txt").string(), pointer);
      FileReport fr;
      fr.name = "tokenizer.txt";
      fr.role = "copied";
      report.files.push_back(fr);
    }
    write_file_atomic((out_dir / "kiln_quantize.json").string(), options_to_json(options).dump(2) + "\n");
    write_file_atomic((out_dir / "ort_config.json").string(), ort_config_json(options).dump(2) + "\n");
  }

  if (options.activation_type == DType::U8 && options.weight_type == DType::I8 && !options.reduce_range &&
      !cpu_info().vnni)
    report.warnings.push_back(
        "this CPU has no VNNI: ONNX Runtime's u8 x s8 kernels (AVX2/AVX-512 without VNNI) can saturate; if accuracy "
        "drops, quantize with --reduce-range (or the avx2 preset's u8 weights)");
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace kiln::quant
