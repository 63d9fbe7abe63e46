// kiln report DIR_A DIR_B ... --data FILE [--task T] [--samples N] [--html report.html] [--json]:
// model folders side by side (size on disk, task metric, time, speed-up and size ratio against the
// first). See docs/evaluation.md.
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "cli/eval_flags.h"
#include "cli/progress.h"
#include "core/tensor_json.h"
#include "eval/model_report.h"
#include "eval/task_call.h"
#include "kiln/model_folder.h"

KILN_COMMAND(report_command, "report", "Compare model folders: size on disk, task metric, time, speed-up") {
  struct Opts {
    std::vector<std::string> dirs;
    std::string metric, html;
    size_t samples = 128, limit = 0;
    bool json = false;
    kiln::cli::EvalFlags f;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("dirs", o->dirs, "model folders; the first is the baseline")->required();
  sub.add_option("--data", o->f.data, "examples: .jsonl, .csv or .tsv with a text and a label/target column")->required();
  sub.add_option("--samples", o->samples, "inputs timed per folder (default 128; taken from the data, repeated)");
  sub.add_option("--metric", o->metric, "accuracy (default), f1 | exact_match (default), cer, wer, per");
  sub.add_option("--limit", o->limit, "score only the first N examples");
  sub.add_option("--html", o->html, "also write one self-contained HTML page with bar charts here");
  sub.add_flag("--json", o->json, "one JSON object with rows[] instead of the Markdown table");
  o->f.add_task(sub);
  o->f.add_columns(sub, true);
  o->f.add_tokenizer(sub);
  return [o] {
    namespace ev = kiln::eval;
    using clock = std::chrono::steady_clock;
    KILN_CHECK(o->samples > 0, BadInput, "--samples must be at least 1");
    ev::ModelReport rep;
    rep.task = o->f.resolved_task(o->dirs[0]);
    rep.data_file = o->f.data;
    rep.batch_size = std::max<size_t>(1, o->f.batch_size);
    std::vector<ev::Example> examples = ev::read_examples(o->f.data, o->f.columns(rep.task), o->limit);
    for (const auto& dir : o->dirs) {
      ev::EvalSettings s;
      s.task = rep.task;
      s.metric = o->metric;
      s.data_file = o->f.data;
      s.pipeline = o->f.pipeline(dir);
      auto pipe = kiln::pipeline(s.task, dir, s.pipeline);
      ev::EvalResult r = ev::evaluate(*pipe, dir, examples, s, kiln::cli::progress_bar("report " + dir));
      // Time: --samples inputs from the data, after one untimed batch.
      auto batch = [&](size_t first, size_t n) {
        std::vector<kiln::PipelineInput> b;
        for (size_t i = 0; i < n; ++i) {
          const auto& e = examples[(first + i) % examples.size()];
          kiln::PipelineInput in(e.text);
          in.text_pair = e.text_pair;
          b.push_back(std::move(in));
        }
        return b;
      };
      ev::run_task_call(*pipe, batch(0, rep.batch_size));
      double ms = 0;
      for (size_t done = 0; done < o->samples; done += rep.batch_size) {
        auto in = batch(done, std::min(rep.batch_size, o->samples - done));
        auto t0 = clock::now();
        ev::run_task_call(*pipe, in);
        ms += std::chrono::duration<double, std::milli>(clock::now() - t0).count();
      }
      ev::ReportRow row;
      row.folder = dir;
      row.size_bytes = kiln::ModelFolder::open(dir).size_on_disk(o->f.file).total_bytes;
      row.metric = r.metric;
      row.metric_value = r.value;
      row.eval_samples = r.samples;
      row.samples = o->samples;
      row.ms_total = ms;
      row.ms_per_sample = ms / o->samples;
      rep.rows.push_back(row);
    }
    rep.compare_to_first();
    rep.machine = ev::machine_info();
    if (!o->html.empty()) kiln::write_file_atomic(o->html, rep.html());
    if (o->json) std::printf("%s\n", rep.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    else std::fputs(rep.markdown().c_str(), stdout);
    return 0;
  };
}
