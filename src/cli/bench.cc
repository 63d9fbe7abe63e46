// kiln bench MODEL.onnx --inputs IN.json [--warmup N] [--repeat N] [--threads N] [--device D] [--json]
//   Times session creation and run(); prints the median. Compare against a peer in the same run
//   (bench/compare) because a shared machine drifts.
// kiln bench DIR [--task T] [--batch-size N] [--seq-len L | --data FILE] [--samples N] [--json]
//   Times a task pipeline on a model folder as a user calls it (tokenize, run, post-process); see
//   docs/evaluation.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/eval_flags.h"
#include "core/error.h"
#include "core/tensor_json.h"
#include "eval/bench_pipeline.h"
#include "kiln/session.h"

namespace {

struct Opts {
  std::string model, inputs, device = "cpu";
  int warmup = -1, repeat = 50;
  bool json = false;
  std::optional<size_t> seq_len;
  size_t samples = 128;
  int64_t max_new_tokens = 16;
  size_t max_tensor_bytes = kiln::SessionOptions::kDefaultMaxTensorBytes;
  int64_t timeout_ms = 0;
  struct {  // SessionOptions' limits on reading the file
    uint64_t max_model_bytes = kiln::SessionOptions::kDefaultMaxModelBytes;
    int max_subgraph_depth = kiln::SessionOptions::kDefaultMaxSubgraphDepth;
  } load;
  kiln::cli::EvalFlags f;
};

int bench_graph(const Opts& o) {
  KILN_CHECK(!o.inputs.empty(), BadInput, "kiln bench {} needs --inputs IN.json (a model folder takes --seq-len or --data)",
             o.model);
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  kiln::SessionOptions so;
  so.device = kiln::parse_device(o.device);
  kiln::NamedTensors feeds = kiln::read_tensors_json(o.inputs);
  auto t0 = clock::now();
  so.threads = o.f.threads;
  so.max_tensor_bytes = o.max_tensor_bytes;
  so.run_timeout_ms = o.timeout_ms;
  so.max_model_bytes = o.load.max_model_bytes;
  so.max_subgraph_depth = o.load.max_subgraph_depth;
  kiln::Session session(o.model, so);
  double load_ms = ms(clock::now() - t0);
  for (int i = 0; i < (o.warmup < 0 ? 10 : o.warmup); ++i) session.run(feeds);
  std::vector<double> times;
  for (int i = 0; i < std::max(1, o.repeat); ++i) {
    auto s = clock::now();
    session.run(feeds);
    times.push_back(ms(clock::now() - s));
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  nlohmann::json j = {{"model", o.model},          {"threads", o.f.threads}, {"load_ms", load_ms},
                      {"min_ms", times.front()},   {"median_ms", median},    {"max_ms", times.back()},
                      {"repeat", times.size()}};
  if (o.json) std::printf("%s\n", j.dump().c_str());
  else
    std::printf("%s: load %.1f ms, run median %.3f ms (min %.3f, max %.3f, %zu runs)\n", o.model.c_str(), load_ms,
                median, times.front(), times.back(), times.size());
  return 0;
}

int bench_folder(const Opts& o) {
  namespace ev = kiln::eval;
  ev::BenchSettings s;
  s.task = o.f.resolved_task(o.model);
  s.pipeline.threads = o.f.threads;
  s.pipeline.device = o.device;
  s.pipeline.max_tensor_bytes = o.max_tensor_bytes;
  s.pipeline.run_timeout_ms = o.timeout_ms;
  s.pipeline.max_model_bytes = o.load.max_model_bytes;
  s.pipeline.max_subgraph_depth = o.load.max_subgraph_depth;
  s.pipeline.file = o.f.file;
  s.pipeline.batch_size = o.f.batch_size;
  KILN_CHECK(!(o.seq_len && !o.f.data.empty()), BadInput, "give --seq-len or --data, not both");
  if (o.seq_len) s.seq_len = *o.seq_len;
  s.data_file = o.f.data;
  if (!s.data_file.empty()) {
    s.columns = ev::DataColumns{};
    s.columns.text = o.f.text_column;
    s.columns.text_pair = o.f.pair_column;
    s.columns.expected_defaults = {};
    s.pipeline.truncation = true;
    s.pipeline.max_length = ev::default_max_length(o.model);
  }
  s.samples = o.samples;
  s.warmup = o.warmup < 0 ? 1 : o.warmup;
  s.max_new_tokens = o.max_new_tokens;
  ev::BenchResult r = ev::bench_pipeline(o.model, s);
  if (o.json) {
    std::printf("%s\n", r.to_json().dump().c_str());
    return 0;
  }
  std::printf("%s (%s): load %.1f ms; batch of %zu x %zu tokens: median %.2f ms (min %.2f, p90 %.2f, %zu batches); "
              "%.1f samples/s; peak RSS %.0f MB; %d threads\n",
              o.model.c_str(), s.task.c_str(), r.load_ms, r.batch_size, r.seq_len, r.median_ms, r.min_ms, r.p90_ms,
              r.batches, r.samples_per_s, r.peak_rss_mb, r.threads);
  if (r.generation)
    std::printf("generation: %lld new tokens each; encoder %.2f ms, first token %.2f ms, step %.2f ms; %.1f tokens/s\n",
                (long long)r.new_tokens, r.encoder_ms, r.first_token_ms, r.step_ms, r.tokens_per_s);
  return 0;
}

}  // namespace

KILN_COMMAND(bench_command, "bench", "Time an ONNX graph on given inputs, or a model folder's task pipeline") {
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "ONNX model file, or model folder")->required();
  sub.add_option("--inputs,-i", o->inputs, "graph: input tensors as JSON");
  sub.add_option("--warmup", o->warmup, "untimed runs first (graph: 10 runs; folder: 1 batch)");
  sub.add_option("--repeat", o->repeat, "graph: timed runs");
  sub.add_flag("--json", o->json, "one JSON line");
  sub.add_option("--device", o->device, "where the graphs run: cpu (default), cuda or cuda:N");
  sub.add_option("--max-tensor-bytes", o->max_tensor_bytes, "largest tensor a run may allocate (0 = no limit)");
  sub.add_option("--timeout-ms", o->timeout_ms, "wall-clock limit of each run in ms (0 = none)");
  sub.add_option("--max-model-bytes", o->load.max_model_bytes, "largest .onnx file read, external data not counted");
  sub.add_option("--max-subgraph-depth", o->load.max_subgraph_depth, "deepest nesting of subgraphs (0 = no limit)");
  o->f.add_task(sub);
  sub.add_option("--seq-len", o->seq_len, "folder: synthetic inputs of exactly this many tokens (default 128)");
  sub.add_option("--data", o->f.data, "folder: texts from a .jsonl, .csv or .tsv file instead of synthetic inputs");
  sub.add_option("--samples", o->samples, "folder: inputs timed (default 128)");
  sub.add_option("--max-new-tokens", o->max_new_tokens, "folder, generation: new tokens per sequence, eos ignored (default 16)");
  o->f.add_columns(sub, false);
  return [o] {
    KILN_CHECK(std::filesystem::exists(o->model), IoError, "{} does not exist; give a .onnx file or a model folder",
               o->model);
    if (std::filesystem::is_directory(o->model)) return bench_folder(*o);
    return bench_graph(*o);
  };
}
