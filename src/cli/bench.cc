// kiln bench MODEL.onnx --inputs IN.json [--warmup N] [--repeat N] [--threads N] [--json]
// Times session creation and run(); prints the median. Compare against a peer in the same run
// (bench/compare) because a shared machine drifts.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/tensor_json.h"
#include "runtime/session.h"

KILN_COMMAND(bench_command, "bench", "Time loading and running an ONNX graph on given inputs") {
  struct Opts {
    std::string model, inputs;
    int warmup = 10, repeat = 50, threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "ONNX model file")->required();
  sub.add_option("--inputs,-i", o->inputs, "input tensors as JSON")->required();
  sub.add_option("--warmup", o->warmup, "untimed runs first");
  sub.add_option("--repeat", o->repeat, "timed runs");
  sub.add_option("--threads", o->threads, "threads (0 = one per core)");
  sub.add_flag("--json", o->json, "one JSON line");
  return [o] {
    using clock = std::chrono::steady_clock;
    auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    kiln::NamedTensors feeds = kiln::read_tensors_json(o->inputs);
    auto t0 = clock::now();
    kiln::SessionOptions so;
    so.threads = o->threads;
    kiln::Session session(o->model, so);
    double load_ms = ms(clock::now() - t0);
    for (int i = 0; i < o->warmup; ++i) session.run(feeds);
    std::vector<double> times;
    for (int i = 0; i < std::max(1, o->repeat); ++i) {
      auto s = clock::now();
      session.run(feeds);
      times.push_back(ms(clock::now() - s));
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    nlohmann::json j = {{"model", o->model}, {"threads", o->threads}, {"load_ms", load_ms}, {"min_ms", times.front()},
                        {"median_ms", median}, {"max_ms", times.back()}, {"repeat", times.size()}};
    if (o->json) std::printf("%s\n", j.dump().c_str());
    else
      std::printf("%s: load %.1f ms, run median %.3f ms (min %.3f, max %.3f, %zu runs)\n", o->model.c_str(), load_ms,
                  median, times.front(), times.back(), times.size());
    return 0;
  };
}
