// The flags kiln eval, kiln bench DIR and kiln report share: task, data columns, pipeline and
// tokenizer options (named as kiln run names them).
#pragma once
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "eval/evaluate.h"

namespace kiln::cli {

struct EvalFlags {
  std::string task, data, text_column, pair_column, label_column, target_column, file;
  int threads = 0;
  size_t batch_size = 1;
  bool truncation = false, no_truncation = false;
  std::optional<size_t> max_length;
  std::optional<int64_t> max_new_tokens;

  void add_task(CLI::App& sub) {
    sub.add_option("--task", task, "text-classification, text2text-generation, summarization, translation, "
                                   "text-generation (default: from config.json's architectures)");
    sub.add_option("--file", file, "graph file (model_quantized.onnx) or suffix of every graph (quantized)");
    sub.add_option("--threads", threads, "threads (0 = one per core)");
    sub.add_option("--batch-size", batch_size, "inputs run together (padded)");
  }
  void add_columns(CLI::App& sub, bool expected) {
    sub.add_option("--text-column", text_column, "column of the input text (default: text, sentence, input, source, question)");
    sub.add_option("--text-pair-column", pair_column, "column of a second text (sentence pairs; question-answering context)");
    if (!expected) return;
    sub.add_option("--label-column", label_column, "classification: column of the gold label (default: label)");
    sub.add_option("--target-column", target_column, "generation: column of the expected text (default: target, summary, ...)");
  }
  void add_tokenizer(CLI::App& sub) {
    sub.add_flag("--truncation", truncation, "truncate inputs (the default for eval; kept for kiln run's spelling)");
    sub.add_flag("--no-truncation", no_truncation, "do not truncate inputs (inputs longer than the model fail)");
    sub.add_option("--max-length", max_length, "truncate to this many tokens (default: the model's limit)");
    sub.add_option("--max-new-tokens", max_new_tokens, "generation: tokens to generate at most");
  }

  std::string resolved_task(const std::string& dir) const { return task.empty() ? eval::default_task(dir) : task; }

  eval::DataColumns columns(const std::string& t) const {
    eval::DataColumns c = eval::default_columns(eval::task_kind(t));
    c.text = text_column;
    c.text_pair = pair_column;
    KILN_CHECK(label_column.empty() || target_column.empty(), BadInput, "give --label-column or --target-column, not both");
    c.expected = !label_column.empty() ? label_column : target_column;
    if (!label_column.empty()) c.expected_flag = "--label-column";
    if (!target_column.empty()) c.expected_flag = "--target-column";
    return c;
  }

  // Pipeline options for `dir`: truncation on, to --max-length or the model's limit.
  PipelineOptions pipeline(const std::string& dir) const {
    KILN_CHECK(!(truncation && no_truncation), BadInput, "give --truncation or --no-truncation, not both");
    PipelineOptions p;
    p.threads = threads;
    p.file = file;
    p.batch_size = batch_size;
    p.truncation = !no_truncation;
    p.max_length = max_length ? max_length : (no_truncation ? std::nullopt : eval::default_max_length(dir));
    if (max_new_tokens) p.generation.max_new_tokens = *max_new_tokens;
    return p;
  }
};

}  // namespace kiln::cli
