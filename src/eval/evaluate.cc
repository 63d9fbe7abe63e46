#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "kiln/model_folder.h"
#include "kiln/tokenizer.h"

namespace kiln::eval {

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The gold label index of every example; throws naming the first the model does not know.
std::vector<size_t> gold_labels(const std::vector<Example>& ex, const std::vector<std::string>& labels,
                                const EvalSettings& s) {
  std::vector<size_t> gold;
  for (const auto& e : ex) {
    size_t k = std::find(labels.begin(), labels.end(), e.expected) - labels.begin();
    if (k == labels.size() && e.expected_is_integer && e.expected.size() < 18) {  // fits long long
      long long id = std::stoll(e.expected);
      if (id >= 0 && (size_t)id < labels.size()) k = (size_t)id;
    }
    KILN_CHECK(k < labels.size(), BadInput,
               "{}: line {}, column '{}': label '{}' is not one the model knows ({}, or their ids 0-{})", s.data_file,
               e.line, e.expected_column.empty() ? s.expected_column : e.expected_column, e.expected, join(labels),
               labels.size() - 1);
    gold.push_back(k);
  }
  return gold;
}

// The model's labels by id (config.json's id2label).
std::vector<std::string> model_labels(const std::string& model_dir) {
  const ModelFolder folder = ModelFolder::open(model_dir);
  folder.require_config();
  KILN_CHECK(!folder.labels().empty(), BadModel, "{}/config.json names no labels (id2label); kiln eval needs them",
             model_dir);
  return folder.labels();
}

void check_labels(const std::string& model_dir, const std::vector<Example>& examples, const EvalSettings& s) {
  if (task_kind(s.task) == TaskKind::Classification) gold_labels(examples, model_labels(model_dir), s);
}

std::string generated_text(const Generation& g, const Example& e, TaskKind kind) {
  KILN_CHECK(!g.texts.empty(), BadModel,
             "the model folder has no tokenizer to decode generated ids; copy its tokenizer files in to score text");
  std::string t = g.texts[0];
  // text-generation returns the prompt and its continuation: score the continuation.
  if (kind == TaskKind::TextGeneration && t.rfind(e.text, 0) == 0) t = t.substr(e.text.size());
  return trim(t);
}

}  // namespace

TaskKind task_kind(const std::string& task) {
  if (task == "text-classification" || task == "sentiment-analysis") return TaskKind::Classification;
  if (task == "text2text-generation" || task == "summarization" || task.rfind("translation", 0) == 0)
    return TaskKind::Text2Text;
  if (task == "text-generation") return TaskKind::TextGeneration;
  throw Unsupported(fmt::format("kiln eval cannot score task '{}' yet; it scores text-classification, "
                                "text2text-generation, summarization, translation and text-generation",
                                task));
}

std::string default_task(const std::string& model_dir) {
  const ModelFolder folder = ModelFolder::open(model_dir);
  folder.require_config();
  const std::vector<std::string>& architectures = folder.architectures();
  for (const auto& a : architectures) {
    if (a.ends_with("ForSequenceClassification")) return "text-classification";
    if (a.ends_with("ForConditionalGeneration") || a.ends_with("ForSeq2SeqLM")) return "text2text-generation";
    if (a.ends_with("ForCausalLM") || a.ends_with("LMHeadModel")) return "text-generation";
  }
  throw BadInput(fmt::format("{}/config.json does not tell the task (architectures: {}); give --task", model_dir,
                             architectures.empty() ? std::string("none") : join(architectures)));
}

DataColumns default_columns(TaskKind kind) {
  DataColumns c;
  if (kind == TaskKind::Classification) {
    c.expected_defaults = {"label", "labels"};
    c.expected_flag = "--label-column";
  } else {
    c.expected_defaults = {"target", "summary", "translation", "output", "completion", "label"};
    c.expected_flag = "--target-column";
  }
  return c;
}

std::optional<size_t> default_max_length(const std::string& model_dir) {
  const ModelFolder folder = ModelFolder::open(model_dir);
  folder.require_config();
  std::optional<size_t> limit;
  if (auto p = folder.max_positions()) limit = (size_t)*p;
  if (folder.has_tokenizer())
    if (auto t = Tokenizer::from_dir(folder.tokenizer_dir())->model_max_length()) limit = limit ? std::min(*limit, *t) : *t;
  return limit;
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j;
  j["task"] = task;
  j["metric"] = metric;
  for (const auto& [k, v] : metrics) j[k] = v;
  j["samples"] = samples;
  j["seconds"] = seconds;
  j["load_seconds"] = load_seconds;
  j["samples_per_s"] = samples_per_s();
  if (confusion) j["confusion"] = {{"labels", confusion->labels}, {"counts", confusion->counts}};
  return j;
}

EvalResult evaluate(const std::string& model_dir, const std::vector<Example>& examples, const EvalSettings& s,
                    const Progress& progress) {
  task_kind(s.task);  // an unsupported task fails before loading
  check_labels(model_dir, examples, s);  // bad data fails before loading
  auto t0 = clock_type::now();
  auto pipe = pipeline(s.task, model_dir, s.pipeline);
  double load = since(t0);
  EvalResult r = evaluate(*pipe, model_dir, examples, s, progress);
  r.load_seconds = load;
  return r;
}

EvalResult evaluate(Pipeline& pipe, const std::string& model_dir, const std::vector<Example>& examples,
                    const EvalSettings& s, const Progress& progress) {
  const TaskKind kind = task_kind(s.task);
  EvalResult res;
  res.task = s.task;
  const auto metrics = task_metrics(kind == TaskKind::Classification);
  res.metric = s.metric.empty() ? metrics[0] : s.metric;
  KILN_CHECK(std::find(metrics.begin(), metrics.end(), res.metric) != metrics.end(), BadInput,
             "metric '{}' does not fit task {}; choose one of {}", res.metric, s.task, join(metrics));
  KILN_CHECK(!examples.empty(), BadInput, "{}: no examples to evaluate", s.data_file);
  std::vector<std::string> labels;
  std::vector<size_t> gold;
  if (kind == TaskKind::Classification) {
    labels = model_labels(model_dir);
    gold = gold_labels(examples, labels, s);
  }

  // The task's typed answers: the best label (classification), the generated sequences (text).
  std::vector<std::string> predicted;
  std::vector<Generation> generated;
  const size_t bs = std::max<size_t>(1, s.pipeline.batch_size);
  auto t0 = clock_type::now();
  for (size_t i = 0; i < examples.size(); i += bs) {
    std::vector<PipelineInput> in;
    for (size_t k = i; k < std::min(examples.size(), i + bs); ++k) {
      PipelineInput p(examples[k].text);
      p.text_pair = examples[k].text_pair;
      in.push_back(std::move(p));
    }
    if (kind == TaskKind::Classification) {
      for (auto& scores : pipe.classify(in)) {  // every label, best first
        KILN_CHECK(!scores.empty(), InternalError, "the pipeline answered no label");
        predicted.push_back(std::move(scores[0].label));
      }
    } else {
      for (auto& g : pipe.generate(in)) generated.push_back(std::move(g));
    }
    if (progress) progress(predicted.size() + generated.size(), examples.size());
  }
  res.seconds = since(t0);
  res.samples = examples.size();

  if (kind == TaskKind::Classification) {
    Confusion cm(labels);
    for (size_t i = 0; i < examples.size(); ++i) {
      const std::string& p = predicted[i];
      size_t k = std::find(labels.begin(), labels.end(), p) - labels.begin();
      KILN_CHECK(k < labels.size(), InternalError, "the pipeline answered label '{}' that config.json does not list", p);
      cm.add(gold[i], k);
    }
    res.metrics["accuracy"] = cm.accuracy();
    res.metrics["f1"] = cm.macro_f1();
    res.confusion = cm;
  } else {
    size_t exact = 0;
    ErrorRate cer, wer;
    for (size_t i = 0; i < examples.size(); ++i) {
      std::string hyp = generated_text(generated[i], examples[i], kind), ref = trim(examples[i].expected);
      exact += hyp == ref;
      cer.add(utf8_chars(ref), utf8_chars(hyp));
      wer.add(split_whitespace(ref), split_whitespace(hyp));
    }
    res.metrics["exact_match"] = (double)exact / examples.size();
    res.metrics["cer"] = cer.value();
    res.metrics["wer"] = wer.value();
    // PER on phoneme strings is WER: phonemes are the whitespace-separated tokens.
    if (res.metric == "per") res.metrics["per"] = wer.value();
  }
  res.value = res.metrics.at(res.metric);
  return res;
}

}  // namespace kiln::eval
