// kiln conformance DIR... [--json] [--filter TEXT] [--timeout S]: runs ONNX backend test folders.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "eval/conformance.h"

KILN_COMMAND(conformance_command, "conformance", "Run ONNX backend test folders (model.onnx + test_data_set_*)") {
  struct Opts {
    std::vector<std::string> dirs;
    bool json = false;
    std::string filter;
    int timeout = 60;
    bool in_process = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("dirs", o->dirs, "test folders, or folders of them (e.g. /usr/share/libonnx-testdata/data/node)")
      ->required();
  sub.add_flag("--json", o->json, "print one JSON object with every result instead of text lines");
  sub.add_option("--filter", o->filter, "only tests whose name contains this text");
  sub.add_option("--timeout", o->timeout, "seconds allowed per test (0 = no limit)");
  sub.add_flag("--in-process", o->in_process, "run tests in this process (faster; a crash ends the run)");
  return [o] {
    auto tests = kiln::eval::find_conformance_tests(o->dirs);
    if (tests.empty()) {
      std::string dirs;
      for (const auto& d : o->dirs) dirs += (dirs.empty() ? "" : ", ") + d;
      throw kiln::BadInput(fmt::format("no ONNX backend test (a folder with model.onnx) in {}; give test folders or "
                                       "folders of them, e.g. /usr/share/libonnx-testdata/data/node",
                                       dirs));
    }
    kiln::eval::ConformanceOptions opts;
    opts.timeout_s = o->timeout;
    int passed = 0, failed = 0, skipped = 0;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& dir : tests) {
      std::string name = kiln::eval::conformance_test_name(dir);
      if (!o->filter.empty() && name.find(o->filter) == std::string::npos) continue;
      auto r = o->in_process ? kiln::eval::run_conformance_test(dir, opts) : kiln::eval::run_conformance_test_isolated(dir, opts);
      using S = kiln::eval::ConformanceResult::Status;
      (r.status == S::Pass ? passed : r.status == S::Skip ? skipped : failed)++;
      if (o->json) {
        list.push_back({{"name", r.name}, {"status", kiln::eval::status_name(r.status)}, {"reason", r.reason}});
      } else {
        std::string line = std::string(kiln::eval::status_name(r.status)) + " " + r.name;
        if (!r.reason.empty()) line += " " + r.reason;
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      }
    }
    if (o->json) {
      nlohmann::json j = {{"tests", list}, {"passed", passed}, {"failed", failed}, {"skipped", skipped}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    }
    return 0;
  };
}
