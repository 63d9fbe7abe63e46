#include "runtime/plan.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>

#include "core/limits.h"

namespace kiln {

int64_t OpsetMap::get(const std::string& domain) const {
  auto it = versions.find(canonical_domain(domain));
  if (it != versions.end()) return it->second;
  // ONNX Runtime's contrib domain is versioned 1 when a model forgets to import it.
  return canonical_domain(domain).empty() ? 0 : 1;
}

OpsetMap OpsetMap::from(const Model& m) {
  OpsetMap o;
  for (const auto& op : m.opsets) o.versions[canonical_domain(op.domain)] = op.version;
  return o;
}

static void collect_missing(const Graph& g, const OpsetMap& opsets, const KernelRegistry& reg, DeviceType device,
                            std::set<std::string>& out) {
  for (const auto& n : g.nodes) {
    int64_t v = opsets.get(n.domain);
    if (!reg.find(device, n.domain, n.op_type, v))
      out.insert(fmt::format("{}:{} (opset {})", n.domain.empty() ? "ai.onnx" : n.domain, n.op_type, v));
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_missing(*a.g, opsets, reg, device, out);
      for (const auto& sg : a.graphs) collect_missing(*sg, opsets, reg, device, out);
    }
  }
}

std::vector<std::string> find_missing_kernels(const Graph& g, const OpsetMap& opsets, const KernelRegistry& reg,
                                              DeviceType device) {
  std::set<std::string> out;
  collect_missing(g, opsets, reg, device, out);
  return {out.begin(), out.end()};
}

int ExecutionPlan::slot_of(const std::string& name) {
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  int s = (int)slot_names_.size();
  slots_[name] = s;
  slot_names_.push_back(name);
  return s;
}

ExecutionPlan::~ExecutionPlan() = default;

ExecutionPlan::ExecutionPlan(const Graph& graph, const OpsetMap& opsets, const KernelRegistry& reg,
                             const std::vector<std::string>& outer)
    : graph_(graph) {
  auto missing = find_missing_kernels(graph, opsets, reg);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw Unsupported(fmt::format("kiln has no kernel for {} op{} in this model: {}", missing.size(),
                                  missing.size() == 1 ? "" : "s", list));
  }
  std::unordered_set<std::string> outer_set(outer.begin(), outer.end());
  std::unordered_set<std::string> defined;
  for (const auto& v : graph.inputs) {
    input_slots_.push_back(slot_of(v.name));
    defined.insert(v.name);
  }
  for (const auto& [name, t] : graph.initializers) {
    constants_.push_back({slot_of(name), t});
    defined.insert(name);
  }
  for (const auto& n : graph.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) defined.insert(o);
  auto use = [&](const std::string& name) {
    int s = slot_of(name);
    if (!defined.count(name)) {
      KILN_CHECK(outer_set.count(name), BadModel, "graph '{}' reads '{}', which nothing defines", graph.name, name);
      bool seen = false;
      for (const auto& [os, _] : outer_)
        if (os == s) seen = true;
      if (!seen) outer_.push_back({s, name});
      defined.insert(name);
    }
    return s;
  };

  // Names visible to subgraphs of this graph: everything defined here plus our own outer scope.
  std::vector<std::string> visible(outer.begin(), outer.end());
  for (const auto& d : defined) visible.push_back(d);

  std::vector<int> last_use;
  auto touch = [&](int s, int step) {
    if ((int)last_use.size() <= s) last_use.resize(s + 1, -1);
    last_use[s] = step;
  };
  for (const auto& n : graph.nodes) {
    Step st;
    st.node = &n;
    int idx = (int)steps_.size();
    KernelInfo info{n};
    info.opset = opsets.get(n.domain);
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        st.inputs.push_back(-1);
        info.constant_inputs.push_back(nullptr);
        info.input_types.push_back(DType::Undefined);
        continue;
      }
      int s = use(in);
      st.inputs.push_back(s);
      touch(s, idx);
      auto it = graph.initializers.find(in);
      info.constant_inputs.push_back(it == graph.initializers.end() ? nullptr : &it->second);
      DType t = DType::Undefined;
      if (it != graph.initializers.end()) t = it->second.dtype();
      else if (const ValueInfo* vi = graph.find_input(in)) t = vi->dtype;
      info.input_types.push_back(t);
    }
    for (const auto& [attr_name, a] : n.attributes) {
      if (!a.g) continue;
      std::unordered_set<std::string> reads;
      collect_outer_reads(*a.g, reads);
      for (const auto& r : reads) touch(use(r), idx);
      info.subgraphs[attr_name] = std::make_shared<ExecutionPlan>(*a.g, opsets, reg, visible);
    }
    for (const auto& o : n.outputs) st.outputs.push_back(o.empty() ? -1 : slot_of(o));
    const KernelFactory* f = reg.find(DeviceType::Cpu, n.domain, n.op_type, info.opset,
                                      info.input_types.empty() ? DType::Undefined : info.input_types[0]);
    if (!f) f = reg.find(DeviceType::Cpu, n.domain, n.op_type, info.opset);
    try {
      st.kernel = (*f)(info);
    } catch (const Error& e) {
      throw BadModel(fmt::format("{}: {}", n.label(), e.what()));
    }
    steps_.push_back(std::move(st));
  }
  for (const auto& v : graph.outputs) {
    int s = slot_of(v.name);
    KILN_CHECK(defined.count(v.name) || outer_set.count(v.name), BadModel,
               "graph '{}': output '{}' is produced by no node", graph.name, v.name);
    if (!defined.count(v.name)) use(v.name);
    output_slots_.push_back(s);
  }
  // Wanted outputs and releases.
  last_use.resize(slot_names_.size(), -1);
  std::unordered_set<int> keep(output_slots_.begin(), output_slots_.end());
  for (const auto& [s, _] : constants_) keep.insert(s);
  for (const auto& [s, _] : outer_) keep.insert(s);
  for (size_t i = 0; i < steps_.size(); ++i) {
    auto& st = steps_[i];
    for (int s : st.outputs) {
      bool read = s >= 0 && (last_use[s] > (int)i || keep.count(s));
      st.wanted.push_back(read);
      if (s >= 0 && !read && !keep.count(s)) st.release.push_back(s);
    }
  }
  for (size_t s = 0; s < last_use.size(); ++s)
    if (last_use[s] >= 0 && !keep.count((int)s)) steps_[last_use[s]].release.push_back((int)s);
}

// KILN_PROFILE=1: time spent per op type, printed to stderr when the process exits. KILN_PROFILE=cpu:
// the calling thread's CPU time instead of wall time (one-thread runs on a busy machine, where wall
// time includes the time other processes held the core; a kernel's worker threads are not counted).
namespace {
double profile_now_ms(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
bool profile_cpu() {
  static bool cpu = std::getenv("KILN_PROFILE") && std::string(std::getenv("KILN_PROFILE")) == "cpu";
  return cpu;
}
struct OpProfile {
  std::mutex mu;
  std::map<std::string, std::pair<double, long>> totals;  // op -> (ms, calls)
  ~OpProfile() {
    if (totals.empty()) return;
    std::vector<std::pair<double, std::string>> rows;
    double all = 0;
    for (const auto& [op, v] : totals) { rows.push_back({v.first, op}); all += v.first; }
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "kiln profile: %.1f ms in kernels\n", all);
    for (const auto& [ms, op] : rows)
      std::fprintf(stderr, "  %-28s %10.2f ms %5.1f%% %8ld calls\n", op.c_str(), ms, 100 * ms / all, totals[op].second);
  }
};
OpProfile* profile() {
  static bool on = std::getenv("KILN_PROFILE") && (std::getenv("KILN_PROFILE")[0] == '1' || profile_cpu());
  static OpProfile p;
  return on ? &p : nullptr;
}
}  // namespace

const Tensor* Frame::lookup(const std::string& name) const {
  auto it = plan_.slots_.find(name);
  if (it != plan_.slots_.end() && values_[it->second].defined()) return &values_[it->second];
  return parent_ ? parent_->lookup(name) : nullptr;
}

std::vector<Tensor> ExecutionPlan::run(const std::vector<Tensor>& inputs, const Frame* parent) const {
  KILN_CHECK(inputs.size() == input_slots_.size(), InternalError, "graph '{}' takes {} inputs, got {}",
             graph_.name, input_slots_.size(), inputs.size());
  Frame frame(*this, parent);
  auto& values = frame.values();
  for (const auto& [s, t] : constants_) values[s] = t;
  for (size_t i = 0; i < inputs.size(); ++i) values[input_slots_[i]] = inputs[i];
  for (const auto& [s, name] : outer_) {
    const Tensor* t = parent ? parent->lookup(name) : nullptr;
    KILN_CHECK(t, InternalError, "graph '{}': outer value '{}' is not available", graph_.name, name);
    values[s] = *t;
  }
  std::vector<Tensor> outs;
  for (const auto& st : steps_) {
    if (deadline_passed()) check_deadline(parent ? "" : st.node->label());
    std::vector<const Tensor*> ins;
    ins.reserve(st.inputs.size());
    for (size_t k = 0; k < st.inputs.size(); ++k) {
      int s = st.inputs[k];
      if (s < 0) { ins.push_back(nullptr); continue; }
      if (!values[s].defined())
        throw InternalError(fmt::format("{}: input '{}' has no value", st.node->label(), slot_names_[s]));
      ins.push_back(&values[s]);
    }
    outs.assign(st.outputs.size(), Tensor());
    KernelContext ctx(*st.node, std::move(ins), outs, st.wanted, &frame);
    OpProfile* prof = profile();
    const double started = prof ? profile_now_ms(profile_cpu()) : 0.0;
    try {
      st.kernel->compute(ctx);
      if (prof) {
        double ms = profile_now_ms(profile_cpu()) - started;
        std::lock_guard<std::mutex> lock(prof->mu);
        auto& t = prof->totals[st.node->domain.empty() ? st.node->op_type : st.node->domain + ":" + st.node->op_type];
        t.first += ms;
        t.second += 1;
      }
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.find(st.node->op_type) == std::string::npos) msg = st.node->label() + ": " + msg;
      switch (e.kind()) {
        case ErrorKind::BadInput: throw BadInput(msg);
        case ErrorKind::Unsupported: throw Unsupported(msg);
        case ErrorKind::BadModel: throw BadModel(msg);
        case ErrorKind::Io: throw IoError(msg);
        default: throw InternalError(msg);
      }
    }
    for (size_t k = 0; k < st.outputs.size(); ++k) {
      if (st.outputs[k] < 0) continue;
      if (!outs[k].defined() && st.wanted[k])
        throw InternalError(fmt::format("{}: output {} was not produced", st.node->label(), k));
      values[st.outputs[k]] = std::move(outs[k]);
    }
    for (int s : st.release) values[s] = Tensor();
  }
  std::vector<Tensor> result;
  for (int s : output_slots_) result.push_back(values[s]);
  return result;
}

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i))
    throw BadModel(fmt::format("{}: required input {} is missing", node_.label(), i));
  return *inputs_[i];
}

Tensor& KernelContext::allocate_output(size_t i, DType dtype, Shape shape) {
  KILN_CHECK(i < outputs_.size(), BadModel, "{}: has no output {}", node_.label(), i);
  outputs_[i] = Tensor(dtype, std::move(shape));
  return outputs_[i];
}

void KernelContext::set_output(size_t i, Tensor t) {
  KILN_CHECK(i < outputs_.size(), BadModel, "{}: has no output {}", node_.label(), i);
  outputs_[i] = std::move(t);
}

std::vector<Tensor> KernelContext::run_subgraph(const ExecutionPlan& plan, const std::vector<Tensor>& inputs) const {
  if (deadline_passed()) check_deadline("");  // the plan running this node prefixes its name
  return plan.run(inputs, frame_);
}

}  // namespace kiln
