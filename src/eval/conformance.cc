#include "eval/conformance.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "kiln/inspect.h"
#include "kiln/session.h"
#include "kiln/tensor_proto.h"

namespace fs = std::filesystem;

namespace kiln {

const char* status_name(ConformanceResult::Status s) {
  switch (s) {
    case ConformanceResult::Status::Pass: return "pass";
    case ConformanceResult::Status::Fail: return "fail";
    case ConformanceResult::Status::Skip: return "skip";
  }
  return "fail";
}

std::string conformance_test_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string parent = fs::absolute(p).parent_path().filename().string();
  return parent.empty() ? p.filename().string() : parent + "/" + p.filename().string();
}

std::vector<std::string> find_conformance_tests(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    KILN_CHECK(fs::is_directory(p), IoError, "{} is not a folder (give ONNX backend test folders, e.g. "
               "/usr/share/libonnx-testdata/data/node)", p);
    if (fs::exists(fs::path(p) / "model.onnx")) {
      out.push_back(p);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) found.push_back(e.path().string());
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

namespace {

// Sorted test_data_set_N folders (numerically), and input_N / output_N files in order.
std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix, bool dirs) {
  std::vector<std::pair<long, fs::path>> v;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) != 0 || e.is_directory() != dirs) continue;
    std::string rest = n.substr(prefix.size());
    if (!dirs) {
      if (rest.size() < 4 || rest.substr(rest.size() - 3) != ".pb") continue;
      rest = rest.substr(0, rest.size() - 3);
    }
    try {
      v.push_back({std::stol(rest), e.path()});
    } catch (...) {
    }
  }
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<fs::path> out;
  for (auto& [_, p] : v) out.push_back(p);
  return out;
}

std::string first_line(std::string s) {
  auto nl = s.find('\n');
  if (nl != std::string::npos) s = s.substr(0, nl);
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  return s;
}

// "" when equal within tolerance, else what differs.
std::string compare(const Tensor& got, const Tensor& want, const ConformanceOptions& o) {
  if (got.dtype() != want.dtype())
    return fmt::format("type {} but expected {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.shape() != want.shape())
    return fmt::format("shape {} but expected {}", shape_str(got.shape()), shape_str(want.shape()));
  int64_t n = want.numel();
  if (want.dtype() == DType::String) {
    const std::string *g = got.data<std::string>(), *w = want.data<std::string>();
    for (int64_t i = 0; i < n; ++i)
      if (g[i] != w[i]) return fmt::format("element {} is '{}' but expected '{}'", i, g[i], w[i]);
    return "";
  }
  if (!dtype_is_float(want.dtype())) {
    for (int64_t i = 0; i < n; ++i)
      if (got.item_i64(i) != want.item_i64(i))
        return fmt::format("element {} is {} but expected {}", i, got.item_i64(i), want.item_i64(i));
    // uint64 beyond int64 range compares by bit pattern through item_i64's cast; fine for equality
    return "";
  }
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double g = got.item_f64(i), w = want.item_f64(i);
    if (std::isnan(w) && std::isnan(g)) continue;
    if (std::isinf(w) || std::isinf(g)) {
      if (g == w) continue;
    } else if (std::fabs(g - w) <= o.atol + o.rtol * std::fabs(w)) {
      continue;
    }
    if (first < 0) first = i;
    ++bad;
    worst = std::max(worst, std::fabs(g - w));
  }
  if (!bad) return "";
  return fmt::format("{} of {} elements differ (first at {}: {} but expected {}; max abs diff {})", bad, n, first,
                     got.item_f64(first), want.item_f64(first), worst);
}

ConformanceResult run_impl(const std::string& dir, const ConformanceOptions& o) {
  ConformanceResult r;
  r.name = conformance_test_name(dir);
  using S = ConformanceResult::Status;
  const std::string model_path = (fs::path(dir) / "model.onnx").string();
  ModelSummary summary;
  try {
    summary = inspect_model(model_path);
  } catch (const Unsupported& e) {  // e.g. type-proto attributes of optional-typed tests
    r.status = S::Skip;
    r.reason = first_line(std::string("the model uses what kiln cannot load: ") + e.what());
    return r;
  }
  for (const auto* list : {&summary.inputs, &summary.outputs})
    for (const auto& v : *list)
      if (!v.is_tensor) {
        r.status = S::Skip;
        r.reason = fmt::format("uses sequence/optional/map values ('{}')", v.name);
        return r;
      }
  if (!summary.unsupported_ops.empty()) {
    r.status = S::Skip;
    r.reason = "no kernel for ";
    for (size_t i = 0; i < summary.unsupported_ops.size(); ++i) r.reason += (i ? ", " : "") + summary.unsupported_ops[i];
    return r;
  }
  SessionOptions so;
  so.threads = o.threads;
  // ONNX's runner feeds the test data as it is, without checking declared input shapes (a few
  // tests' data disagree with their model).
  so.check_input_shapes = false;
  Session session(model_path, so);
  // The graph inputs the test feeds (initializers are not among them), in order, and the outputs.
  const std::vector<TensorInfo> inputs = session.input_info();
  std::vector<std::string> feed_names, out_names;
  for (const auto& v : inputs) feed_names.push_back(v.name);
  for (const auto& v : session.output_info()) out_names.push_back(v.name);
  auto sets = numbered(dir, "test_data_set_", true);
  KILN_CHECK(!sets.empty(), BadModel, "no test_data_set_* folder");
  for (const auto& set : sets) {
    NamedTensors feeds;
    auto ins = numbered(set, "input_", false);
    for (size_t i = 0; i < ins.size(); ++i) {
      std::string name;
      Tensor t = read_tensor_proto(ins[i].string(), &name);
      if (std::find(feed_names.begin(), feed_names.end(), name) == feed_names.end()) {
        KILN_CHECK(i < feed_names.size(), BadModel, "{} has no matching graph input", ins[i].string());
        name = feed_names[i];
      }
      // ONNX's older test data stores bfloat16 tensors as uint16 bit patterns.
      auto in = std::find_if(inputs.begin(), inputs.end(), [&](const TensorInfo& v) { return v.name == name; });
      if (in != inputs.end() && in->dtype == DType::BF16 && t.dtype() == DType::U16)
        t = Tensor::view(DType::BF16, t.shape(), t.buffer(), t.offset());
      feeds[name] = t;
    }
    NamedTensors outs = session.run(feeds);
    auto wants = numbered(set, "output_", false);
    KILN_CHECK(wants.size() <= out_names.size(), BadModel, "{} expected outputs for {} graph outputs", wants.size(),
               out_names.size());
    for (size_t i = 0; i < wants.size(); ++i) {
      Tensor want = read_tensor_proto(wants[i].string());
      Tensor got = outs.at(out_names[i]);
      if (got.dtype() == DType::BF16 && want.dtype() == DType::U16)  // bit patterns, as above
        got = Tensor::view(DType::U16, got.shape(), got.buffer(), got.offset());
      std::string diff = compare(got, want, o);
      if (!diff.empty()) {
        r.status = S::Fail;
        r.reason = fmt::format("{}: output '{}': {}", set.filename().string(), out_names[i], diff);
        return r;
      }
    }
  }
  r.status = S::Pass;
  return r;
}

}  // namespace

ConformanceResult run_conformance_test(const std::string& dir, const ConformanceOptions& options) {
  try {
    return run_impl(dir, options);
  } catch (const std::exception& e) {
    ConformanceResult r;
    r.name = conformance_test_name(dir);
    r.status = ConformanceResult::Status::Fail;
    r.reason = first_line(e.what());
    return r;
  } catch (...) {
    ConformanceResult r;
    r.name = conformance_test_name(dir);
    r.reason = "unknown exception";
    return r;
  }
}

ConformanceResult run_conformance_test_isolated(const std::string& dir, const ConformanceOptions& options) {
  ConformanceResult r;
  r.name = conformance_test_name(dir);
  int fds[2];
  if (pipe(fds) != 0) return run_conformance_test(dir, options);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return run_conformance_test(dir, options);
  }
  if (pid == 0) {
    close(fds[0]);
    if (options.timeout_s > 0) alarm((unsigned)options.timeout_s);
    ConformanceResult c = run_conformance_test(dir, options);
    std::string msg = std::string(status_name(c.status)) + "\n" + c.reason;
    const char* p = msg.data();
    size_t left = msg.size();
    while (left > 0) {
      ssize_t w = write(fds[1], p, left);
      if (w <= 0) break;
      p += w;
      left -= (size_t)w;
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, (size_t)n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  auto nl = msg.find('\n');
  if (nl == std::string::npos) {
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
      r.reason = fmt::format("timed out after {} s", options.timeout_s);
    else if (WIFSIGNALED(status))
      r.reason = fmt::format("crashed ({})", strsignal(WTERMSIG(status)));
    else
      r.reason = "the test process ended without a result";
    r.status = ConformanceResult::Status::Fail;
    return r;
  }
  std::string st = msg.substr(0, nl);
  r.reason = msg.substr(nl + 1);
  r.status = st == "pass" ? ConformanceResult::Status::Pass
             : st == "skip" ? ConformanceResult::Status::Skip
                            : ConformanceResult::Status::Fail;
  return r;
}

}  // namespace kiln
