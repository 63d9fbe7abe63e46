#include "eval/bench_pipeline.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/threads.h"
#include "eval/synthetic_input.h"
#include "eval/task_call.h"
#include "kiln/model_folder.h"

namespace kiln::eval {

namespace {

using clock_type = std::chrono::steady_clock;
double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  size_t rank = (size_t)std::ceil(p / 100.0 * sorted.size());
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

bool is_generation(const std::string& task) {
  return task.find("generation") != std::string::npos || task == "summarization" || task.rfind("translation", 0) == 0;
}

}  // namespace

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux reports kilobytes
}

nlohmann::json BenchResult::to_json() const {
  nlohmann::json j = {{"load_ms", load_ms},         {"min_ms", min_ms},           {"median_ms", median_ms},
                      {"p90_ms", p90_ms},           {"max_ms", max_ms},           {"total_ms", total_ms},
                      {"samples_per_s", samples_per_s}, {"peak_rss_mb", peak_rss_mb}, {"batch_size", batch_size},
                      {"seq_len", seq_len},         {"samples", samples},         {"batches", batches},
                      {"threads", threads},         {"input", synthetic_text ? "text" : "ids"}};
  if (generation) {
    j["new_tokens"] = new_tokens;
    if (encoder_ms > 0) j["encoder_ms"] = encoder_ms;
    j["first_token_ms"] = first_token_ms;
    j["step_ms"] = step_ms;
    j["tokens_per_s"] = tokens_per_s;
  }
  return j;
}

BenchResult bench_pipeline(const std::string& model_dir, const BenchSettings& s) {
  KILN_CHECK(s.samples > 0, BadInput, "--samples must be at least 1");
  KILN_CHECK(s.pipeline.batch_size > 0, BadInput, "--batch-size must be at least 1");
  BenchResult r;
  r.generation = is_generation(s.task);
  r.batch_size = s.pipeline.batch_size;

  // The inputs, made before anything is timed.
  std::vector<PipelineInput> pool;
  const ModelFolder folder = ModelFolder::open(model_dir);
  folder.require_config();
  std::unique_ptr<Tokenizer> tokenizer;
  if (folder.has_tokenizer()) tokenizer = Tokenizer::from_dir(folder.tokenizer_dir());
  if (s.data_file.empty()) {
    bool text = false;
    pool.push_back(synthetic_input(folder, tokenizer.get(), s.task, s.seq_len, &text));
    r.synthetic_text = text;
    r.seq_len = s.seq_len;
  } else {
    for (const auto& e : read_examples(s.data_file, s.columns)) {
      PipelineInput in(e.text);
      in.text_pair = e.text_pair;
      pool.push_back(std::move(in));
    }
    r.synthetic_text = true;
    // seq_len: the mean token count of the texts used (special tokens included, before truncation).
    if (!tokenizer)
      tokenizer = Tokenizer::from_dir(
          folder.require_tokenizer_dir("copy the tokenizer files in, or pass token ids with --input-ids"));
    size_t tokens = 0, n = std::min(pool.size(), s.samples);
    for (size_t i = 0; i < n; ++i)
      tokens += pool[i].text_pair ? tokenizer->encode_pair(pool[i].text, *pool[i].text_pair).ids.size()
                                  : tokenizer->encode(pool[i].text).ids.size();
    r.seq_len = (tokens + n / 2) / n;
  }
  auto batch_at = [&](size_t first, size_t n) {
    std::vector<PipelineInput> b;
    for (size_t i = 0; i < n; ++i) b.push_back(pool[(first + i) % pool.size()]);
    return b;
  };

  PipelineOptions po = s.pipeline;
  // Step timing: the callback sees every new token of every row; row 0's mark each step's end.
  clock_type::time_point batch_start, encoded;
  std::vector<clock_type::time_point> steps;
  int64_t tokens = 0;
  if (r.generation) {
    KILN_CHECK(s.max_new_tokens > 0, BadInput, "--max-new-tokens must be at least 1");
    po.generation.max_new_tokens = s.max_new_tokens;
    po.generation.min_new_tokens = s.max_new_tokens;  // eos is banned until then: every row runs all steps
    po.generation.num_beams = 1;
    po.on_encoded = [&] { encoded = clock_type::now(); };
    po.on_token = [&](size_t input, size_t seq, int64_t) {
      ++tokens;
      if (input == 0 && seq == 0) steps.push_back(clock_type::now());
    };
  }
  auto t0 = clock_type::now();
  auto pipe = pipeline(s.task, model_dir, po);
  r.load_ms = ms_between(t0, clock_type::now());
  r.threads = resolve_threads(s.pipeline.threads);

  const size_t bs = s.pipeline.batch_size;
  for (int w = 0; w < s.warmup; ++w) run_task_call(*pipe, batch_at(0, bs));
  std::vector<double> times, encoder, first_token, step;
  tokens = 0;
  for (size_t done = 0; done < s.samples; done += bs) {
    const size_t n = std::min(bs, s.samples - done);
    auto batch = batch_at(done, n);
    steps.clear();
    encoded = {};
    batch_start = clock_type::now();
    run_task_call(*pipe, batch);
    auto end = clock_type::now();
    times.push_back(ms_between(batch_start, end));
    if (r.generation && !steps.empty()) {
      if (encoded != clock_type::time_point{}) encoder.push_back(ms_between(batch_start, encoded));
      first_token.push_back(ms_between(batch_start, steps[0]));
      for (size_t k = 1; k < steps.size(); ++k) step.push_back(ms_between(steps[k - 1], steps[k]));
    }
  }
  r.samples = s.samples;
  r.batches = times.size();
  for (double t : times) r.total_ms += t;
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  r.min_ms = sorted.front();
  r.max_ms = sorted.back();
  r.median_ms = median(times);
  r.p90_ms = percentile(sorted, 90);
  r.samples_per_s = r.total_ms > 0 ? 1000.0 * r.samples / r.total_ms : 0;
  if (r.generation) {
    r.new_tokens = s.max_new_tokens;
    r.encoder_ms = median(encoder);
    r.first_token_ms = median(first_token);
    r.step_ms = median(step);
    r.tokens_per_s = r.total_ms > 0 ? 1000.0 * tokens / r.total_ms : 0;
  }
  r.peak_rss_mb = peak_rss_mb();
  return r;
}

}  // namespace kiln::eval
