// kiln eval DIR --data FILE [--task T] [--metric M] [--limit N] [--batch-size N] [--json]: a task
// pipeline over labelled data, scored (accuracy and macro F1 with the confusion matrix for
// classifiers; exact match, CER, WER or PER for generation). See docs/evaluation.md.
#include <cstdio>

#include "cli/command.h"
#include "cli/eval_flags.h"
#include "cli/progress.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"

namespace {

void print_confusion(const kiln::eval::Confusion& c) {
  size_t w = 9;
  for (const auto& l : c.labels) w = std::max(w, l.size() + 2);
  std::printf("confusion (rows: gold, columns: predicted):\n%*s", (int)w, "");
  for (const auto& l : c.labels) std::printf("%*s", (int)w, l.c_str());
  std::printf("\n");
  for (size_t g = 0; g < c.labels.size(); ++g) {
    std::printf("%*s", (int)w, c.labels[g].c_str());
    for (size_t p = 0; p < c.labels.size(); ++p) std::printf("%*lld", (int)w, (long long)c.counts[g][p]);
    std::printf("\n");
  }
}

}  // namespace

KILN_COMMAND(eval_command, "eval", "Score a task pipeline on labelled data (accuracy, F1, exact match, CER, WER, PER)") {
  struct Opts {
    std::string dir, metric;
    size_t limit = 0;
    bool json = false;
    kiln::cli::EvalFlags f;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("dir", o->dir, "model folder (config.json, *.onnx, tokenizer files)")->required();
  sub.add_option("--data", o->f.data, "examples: .jsonl, .csv or .tsv with a text and a label/target column")->required();
  sub.add_option("--metric", o->metric, "accuracy (default), f1 | exact_match (default), cer, wer, per");
  sub.add_option("--limit", o->limit, "score only the first N examples");
  sub.add_flag("--json", o->json, "one JSON object with every metric");
  o->f.add_task(sub);
  o->f.add_columns(sub, true);
  o->f.add_tokenizer(sub);
  return [o] {
    namespace ev = kiln::eval;
    ev::EvalSettings s;
    s.task = o->f.resolved_task(o->dir);
    ev::DataColumns cols = o->f.columns(s.task);
    s.metric = o->metric;
    s.data_file = o->f.data;
    std::vector<ev::Example> examples = ev::read_examples(o->f.data, cols, o->limit);
    s.expected_column = examples.empty() ? "" : examples[0].expected_column;
    s.pipeline = o->f.pipeline(o->dir);
    ev::EvalResult r = ev::evaluate(o->dir, examples, s, kiln::cli::progress_bar("eval"));
    if (o->json) {
      std::printf("%s\n", r.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return 0;
    }
    for (const auto& [k, v] : r.metrics) std::printf("%s%s: %.4f\n", k.c_str(), k == "f1" ? " (macro)" : "", v);
    if (r.confusion) print_confusion(*r.confusion);
    std::printf("samples: %zu in %.2f s, %.1f samples/s (load %.2f s)\n", r.samples, r.seconds, r.samples_per_s(),
                r.load_seconds);
    return 0;
  };
}
