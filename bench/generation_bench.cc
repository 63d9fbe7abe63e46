// Per-step decoder time of greedy generation through kiln's KV-cache driver (CachedDecoder) on an
// encoder-decoder folder (three-graph layout): the time of step 1 (decoder_model), and of steps 16
// and 64 (decoder_with_past_model), each the median over --repeat runs. With the cache in use the
// step time stays flat as the output grows. bench/generation runs it beside ONNX Runtime
// (../shared/peers/gen-bench.js) on the same graphs.
//   generation_bench --make-t5-like DIR   (a t5-small-sized folder: the quantizer tests' builder)
//   generation_bench DIR [--input-len 32] [--new-tokens 64] [--threads 2] [--repeat 3] [--no-cache]
//                        [--beams N] [--concat-cache]
// --beams: beam search with N beams per input (no early stop: every step runs), the caches
// reordered every step; --concat-cache: the with-past graph concatenates its caches as exported
// (SessionOptions::kv_cache_in_place off), for comparing with the in-place caches the pipelines use.
// Prints one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "pipelines/generation/decoder.h"
#include "pipelines/generation/search.h"
#include "pipelines/model_dir.h"
#include "pipelines/tensor_rows.h"
// The quantizer tests' t5-small-shaped folder builder (t5-small's weight shapes, simplified attention).
#include "../tests/quantize/t5_like_model.h"

namespace {

using Clock = std::chrono::steady_clock;

// Times every step() of the wrapped model.
class TimedModel : public kiln::pipelines::generation::StepModel {
 public:
  explicit TimedModel(kiln::pipelines::generation::StepModel& m) : m_(m) {}
  std::span<float> step(const std::vector<std::vector<int64_t>>& t) override {
    auto t0 = Clock::now();
    auto r = m_.step(t);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    return r;
  }
  int64_t vocab_size() const override { return m_.vocab_size(); }
  int64_t rows() const override { return m_.rows(); }
  void select(const std::vector<int64_t>& r) override { m_.select(r); }
  std::vector<double> ms;

 private:
  kiln::pipelines::generation::StepModel& m_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: generation_bench DIR [--batch 1] [--input-len 32] [--new-tokens 64] [--threads 2] [--repeat 3] [--no-cache] "
                 "[--beams N] [--concat-cache]\n");
    return 2;
  }
  std::string dir = argv[1];
  if (dir == "--make-t5-like" && argc > 2) {  // writes a t5-small-sized three-graph folder to argv[2]
    std::filesystem::create_directories(argv[2]);
    kiln::qtest::T5LikeBuilder(kiln::qtest::T5Dims{}).write_folder(argv[2]);
    kiln::write_file_atomic(std::string(argv[2]) + "/config.json",
                            R"({"model_type": "t5", "is_encoder_decoder": true, "d_model": 512, "num_heads": 1, "d_kv": 512, )"
                            R"("vocab_size": 32128, "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0})");
    return 0;
  }
  int input_len = 32, new_tokens = 64, threads = 2, repeat = 3, batch = 1, beams = 1;
  bool in_place = true;
  bool cache = true;
  for (int i = 2; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (!std::strcmp(argv[i], "--input-len")) input_len = next();
    else if (!std::strcmp(argv[i], "--new-tokens")) new_tokens = next();
    else if (!std::strcmp(argv[i], "--threads")) threads = next();
    else if (!std::strcmp(argv[i], "--repeat")) repeat = next();
    else if (!std::strcmp(argv[i], "--no-cache")) cache = false;
    else if (!std::strcmp(argv[i], "--batch")) batch = next();
    else if (!std::strcmp(argv[i], "--beams")) beams = next();
    else if (!std::strcmp(argv[i], "--concat-cache")) in_place = false;
  }
  try {
    using namespace kiln;
    pipelines::ModelDir md(dir, "", threads);
    pipelines::generation::DecoderGraphs g;
    auto enc = md.open(md.require_graph("encoder_model", "generation_bench"));
    g.no_past = md.open(md.require_graph("decoder_model", "generation_bench"));
    g.with_past = md.open(md.require_graph("decoder_with_past_model", "generation_bench"), in_place);
    g.num_heads = md.config().decoder_heads;
    g.head_dim = md.config().head_dim;
    const int64_t vocab = md.config().vocab_size > 0 ? md.config().vocab_size : 32000;
    // One row per sequence, each its own ids (as gen-bench.js --inputs varied), eos last.
    std::vector<std::vector<int64_t>> rows((size_t)std::max(batch, 1));
    for (size_t b = 0; b < rows.size(); ++b)
      for (int i = 0; i < input_len; ++i)
        rows[b].push_back(i + 1 == input_len ? 1 : 5 + ((int64_t)i * 7919 + (int64_t)b * 104729) % (vocab - 10));
    const std::vector<std::vector<int64_t>> mask(rows.size(), std::vector<int64_t>((size_t)input_len, 1));
    pipelines::generation::GenerationConfig c;  // plain argmax, never stops early (no eos), as gen-bench.js does
    c.max_new_tokens = new_tokens;
    c.decoder_start_token_id = md.config().generation.decoder_start_token_id.value_or(0);
    c.pad_token_id = 0;
    c.use_cache = cache;
    c.num_beams = std::max(beams, 1);
    std::vector<std::vector<double>> steps((size_t)new_tokens);
    std::vector<double> encoder_ms, total_ms;
    for (int r = 0; r < repeat + 1; ++r) {  // the first run warms up
      auto t0 = Clock::now();
      NamedTensors outs = enc->run({{"input_ids", pipelines::i64_matrix(rows)},
                                    {"attention_mask", pipelines::i64_matrix(mask)}});
      double e = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      pipelines::generation::CachedDecoder dec(g, (int64_t)rows.size(), outs.at("last_hidden_state"), pipelines::i64_matrix(mask), cache);
      TimedModel tm(dec);
      pipelines::generation::generate(tm, std::vector<std::vector<int64_t>>(rows.size(), {*c.decoder_start_token_id}), c);
      double total = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (r == 0) continue;
      encoder_ms.push_back(e);
      total_ms.push_back(total);
      for (size_t s = 0; s < tm.ms.size() && s < steps.size(); ++s) steps[s].push_back(tm.ms[s]);
    }
    nlohmann::json j;
    j["system"] = "kiln";
    j["cache"] = cache;
    j["cache_in_place"] = in_place;
    j["beams"] = c.num_beams;
    j["input_len"] = input_len;
    j["new_tokens"] = new_tokens;
    j["threads"] = threads;
    j["batch"] = (int)rows.size();
    j["encoder_ms"] = median(encoder_ms);
    // Encoder + every step + the generation loop's own work, as gen-bench.js's total_ms.
    j["total_ms"] = median(total_ms);
    j["tokens_per_s"] = (double)rows.size() * new_tokens / (median(total_ms) / 1000.0);
    // Every run's total and first step: on a shared VM single runs stall (a first step of 20-90 ms
    // instead of 5 was seen in 1 run of 3), and the spread says how far the median can be trusted.
    j["total_ms_runs"] = total_ms;
    j["step_1_ms_runs"] = steps[0];
    for (int s : {1, 16, 64})
      if (s <= new_tokens) j["step_" + std::to_string(s) + "_ms"] = median(steps[s - 1]);
    for (int upto : {16, 64})
      if (upto <= new_tokens) {
        std::vector<double> mean;
        for (int r = 0; r < repeat; ++r) {
          double sum = 0;
          for (int s = 1; s < upto; ++s) sum += steps[s][r];
          mean.push_back(sum / (upto - 1));
        }
        j["mean_step_2_to_" + std::to_string(upto) + "_ms"] = median(mean);
      }
    // Medians over a window of steps and runs: robust to the preemption spikes of a shared machine.
    auto window = [&](int from, int to) {
      std::vector<double> all;
      for (int s = from; s <= to && s <= new_tokens; ++s) all.insert(all.end(), steps[s - 1].begin(), steps[s - 1].end());
      return all.empty() ? 0.0 : median(all);
    };
    j["median_step_2_to_16_ms"] = window(2, 16);
    if (new_tokens >= 64) j["median_step_49_to_64_ms"] = window(49, 64);
    if (std::getenv("KILN_BENCH_ALL_STEPS")) {
      std::vector<double> med;
      for (auto& st : steps) med.push_back(median(st));
      j["step_ms"] = med;
    }
    std::printf("%s\n", j.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generation_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
