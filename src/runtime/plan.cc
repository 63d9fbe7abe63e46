#include "runtime/plan.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>

#include "core/device_registry.h"
#include "core/limits.h"
#include "runtime/copy_step.h"
#include "runtime/placement.h"

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
    const bool on_device = device != DeviceType::Cpu && reg.find(device, n.domain, n.op_type, v);
    if (!on_device && !reg.find(DeviceType::Cpu, n.domain, n.op_type, v))
      out.insert(fmt::format("{}:{} (opset {})", n.domain.empty() ? "ai.onnx" : n.domain, n.op_type, v));
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_missing(*a.g, opsets, reg, DeviceType::Cpu, out);  // bodies run on the CPU
      for (const auto& sg : a.graphs) collect_missing(*sg, opsets, reg, DeviceType::Cpu, out);
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
  int s = new_slot(name, Device{});
  slots_[name] = s;
  return s;
}

// A slot no graph name refers to (a copy's), so it cannot clash with one.
int ExecutionPlan::new_slot(const std::string& name, Device device) {
  int s = (int)slot_names_.size();
  slot_names_.push_back(name);
  slot_devices_.push_back(device);
  return s;
}

ExecutionPlan::~ExecutionPlan() = default;

ExecutionPlan::ExecutionPlan(const Graph& graph, const OpsetMap& opsets, const KernelRegistry& reg,
                             const std::vector<std::string>& outer, Device device)
    : states_(std::make_unique<ReusePool<RunState>>()), graph_(graph), device_(device.is_cpu() ? Device{} : device) {
  Allocator* device_alloc = device_.is_cpu() ? nullptr : &require_allocator(device_);
  Allocator& cpu_alloc = *find_allocator(Device{});
  auto missing = find_missing_kernels(graph, opsets, reg, device_.type);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw Unsupported(fmt::format("kiln has no kernel for {} op{} in this model: {}", missing.size(),
                                  missing.size() == 1 ? "" : "s", list));
  }
  std::unordered_set<std::string> outer_set(outer.begin(), outer.end());
  std::unordered_set<std::string> defined;
  std::unordered_map<int, const Tensor*> constant_of;
  for (const auto& v : graph.inputs) {
    input_slots_.push_back(slot_of(v.name));
    defined.insert(v.name);
  }
  for (const auto& [name, t] : graph.initializers) {
    int s = slot_of(name);
    constants_.push_back({s, t});
    constant_of[s] = &t;
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
  // The slot holding value `s` in CPU memory (on_cpu) or in the device's: `s` itself when it is
  // there already, else its copy, made once: initializers now, other values by a copy step
  // appended here (before the step that first reads it there).
  std::map<std::pair<int, bool>, int> copied;
  auto placed = [&](int s, bool on_cpu) {
    const Device want = on_cpu ? Device{} : device_;
    if (slot_devices_[s] == want) return s;
    auto it = copied.find({s, on_cpu});
    if (it != copied.end()) return it->second;
    Allocator& to = on_cpu ? cpu_alloc : *device_alloc;
    const std::string name = slot_names_[s] + "@" + device_name(want);
    int c = new_slot(name, want);
    if (auto k = constant_of.find(s); k != constant_of.end()) {
      constants_.push_back({c, copy_to(*k->second, to)});
      constants_on_device_.push_back(slot_names_[s]);
    } else {
      Step st;
      st.node = &copy_nodes_.emplace_back(copy_node(slot_names_[s], name, want));
      st.kernel = copy_kernel(to);
      st.inputs = {s};
      st.outputs = {c};
      st.device = want;
      touch(s, (int)steps_.size());
      steps_.push_back(std::move(st));
    }
    copied[{s, on_cpu}] = c;
    return c;
  };
  std::vector<std::pair<std::string, int>> read_by_subgraphs;  // name -> its CPU copy

  for (const auto& n : graph.nodes) {
    Step st;
    st.node = &n;
    KernelInfo info{n};
    info.opset = opsets.get(n.domain);
    std::vector<int> ins;
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        ins.push_back(-1);
        info.constant_inputs.push_back(nullptr);
        info.input_types.push_back(DType::Undefined);
        continue;
      }
      ins.push_back(use(in));
      auto it = graph.initializers.find(in);
      info.constant_inputs.push_back(it == graph.initializers.end() ? nullptr : &it->second);
      DType t = DType::Undefined;
      if (it != graph.initializers.end()) t = it->second.dtype();
      else if (const ValueInfo* vi = graph.find_input(in)) t = vi->dtype;
      info.input_types.push_back(t);
    }
    std::vector<int> reads;  // outer values the node's subgraphs read (through the frame)
    for (const auto& [attr_name, a] : n.attributes) {
      if (!a.g) continue;
      std::unordered_set<std::string> names;
      collect_outer_reads(*a.g, names);
      for (const auto& r : names) reads.push_back(use(r));
      info.subgraphs[attr_name] = std::make_shared<ExecutionPlan>(*a.g, opsets, reg, visible);
    }
    Placement p = place_node(n, info.opset, info.input_types.empty() ? DType::Undefined : info.input_types[0],
                             device_alloc, reg);
    // Each input in the memory the kernel reads it from; subgraphs (on the CPU) read CPU copies.
    for (size_t k = 0; k < ins.size(); ++k) st.inputs.push_back(ins[k] < 0 ? -1 : placed(ins[k], p.input_on_cpu(k)));
    for (int& r : reads) {
      int c = placed(r, true);
      if (c != r) read_by_subgraphs.push_back({slot_names_[r], c});
      r = c;
    }
    const int idx = (int)steps_.size();
    for (int s : st.inputs)
      if (s >= 0) touch(s, idx);
    for (int s : reads) touch(s, idx);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) {
        st.outputs.push_back(-1);
        continue;
      }
      int s = slot_of(n.outputs[k]);
      slot_devices_[s] = p.output_on_cpu(k) ? Device{} : p.device;
      st.outputs.push_back(s);
    }
    st.device = p.device;
    st.allocator = p.allocator;
    st.cpu_outputs = p.cpu_outputs;
    try {
      st.kernel = p.kernel->factory(info);
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
    output_slots_.push_back(placed(s, true));  // outputs leave in CPU memory
  }
  for (const auto& [name, c] : read_by_subgraphs) slots_[name] = c;
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
// KILN_PROFILE=shape: wall time per op type and shape of the first output (which of a model's
// products, e.g. a transformer's FFN up or down projection, takes the time).
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
      std::fprintf(stderr, "  %-40s %10.2f ms %5.1f%% %8ld calls\n", op.c_str(), ms, 100 * ms / all, totals[op].second);
  }
};
bool profile_shapes() {
  static bool shapes = std::getenv("KILN_PROFILE") && std::string(std::getenv("KILN_PROFILE")) == "shape";
  return shapes;
}
OpProfile* profile() {
  static bool on =
      std::getenv("KILN_PROFILE") && (std::getenv("KILN_PROFILE")[0] == '1' || profile_cpu() || profile_shapes());
  static OpProfile p;
  return on ? &p : nullptr;
}
}  // namespace

const Tensor* Frame::lookup(const std::string& name) const {
  auto it = plan_.slots_.find(name);
  if (it != plan_.slots_.end() && values_[it->second].defined()) return &values_[it->second];
  return parent_ ? parent_->lookup(name) : nullptr;
}

struct ExecutionPlan::RunState {
  explicit RunState(const ExecutionPlan& plan) : frame(plan, nullptr) {}
  Frame frame;
  std::vector<const Tensor*> ins;  // the step's inputs
  std::vector<Tensor> outs;        // the step's outputs
};

std::vector<Tensor> ExecutionPlan::run(const std::vector<Tensor>& inputs, const Frame* parent) const {
  std::vector<const Tensor*> ins;
  ins.reserve(inputs.size());
  for (const Tensor& t : inputs) ins.push_back(&t);
  std::vector<Tensor> result;
  run(ins, result, parent);
  return result;
}

void ExecutionPlan::run(std::span<const Tensor* const> inputs, std::vector<Tensor>& result, const Frame* parent) const {
  KILN_CHECK(inputs.size() == input_slots_.size(), InternalError, "graph '{}' takes {} inputs, got {}",
             graph_.name, input_slots_.size(), inputs.size());
  auto state = states_->take([this] { return std::make_unique<RunState>(*this); });
  Frame& frame = state->frame;
  frame.set_parent(parent);
  auto& values = frame.values();
  // Every slot is empty again when the run ends, however it ends: the frame keeps no tensor alive
  // between runs (nor the feeds or outputs, which belong to the caller).
  struct Clear {
    std::vector<Tensor>& values;
    std::vector<Tensor>& outs;
    ~Clear() {
      for (Tensor& t : values) t = Tensor();
      for (Tensor& t : outs) t = Tensor();
    }
  } clear{values, state->outs};
  for (const auto& [s, t] : constants_) values[s] = t;
  for (size_t i = 0; i < inputs.size(); ++i) values[input_slots_[i]] = *inputs[i];
  for (const auto& [s, name] : outer_) {
    const Tensor* t = parent ? parent->lookup(name) : nullptr;
    KILN_CHECK(t, InternalError, "graph '{}': outer value '{}' is not available", graph_.name, name);
    values[s] = *t;
  }
  std::vector<const Tensor*>& ins = state->ins;
  std::vector<Tensor>& outs = state->outs;
  for (const auto& st : steps_) {
    if (deadline_passed()) check_deadline(parent ? "" : st.node->label());
    ins.clear();
    for (size_t k = 0; k < st.inputs.size(); ++k) {
      int s = st.inputs[k];
      if (s < 0) { ins.push_back(nullptr); continue; }
      if (!values[s].defined())
        throw InternalError(fmt::format("{}: input '{}' has no value", st.node->label(), slot_names_[s]));
      ins.push_back(&values[s]);
    }
    outs.clear();
    outs.resize(st.outputs.size());
    KernelContext ctx(*st.node, ins, outs, st.wanted, &frame, st.allocator, st.cpu_outputs);
    OpProfile* prof = profile();
    const double started = prof ? profile_now_ms(profile_cpu()) : 0.0;
    try {
      st.kernel->compute(ctx);
      if (prof) {
        double ms = profile_now_ms(profile_cpu()) - started;
        std::lock_guard<std::mutex> lock(prof->mu);
        std::string key = st.node->domain.empty() ? st.node->op_type : st.node->domain + ":" + st.node->op_type;
        if (profile_shapes() && !outs.empty() && outs[0].defined()) {
          key += " [";
          for (int64_t d = 0; d < outs[0].rank(); ++d) key += (d ? "x" : "") + std::to_string(outs[0].dim(d));
          key += "]";
        }
        auto& t = prof->totals[key];
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
    if (st.allocator) check_output_devices(st, outs);  // off the CPU only: one compare per step here
    for (size_t k = 0; k < st.outputs.size(); ++k) {
      if (st.outputs[k] < 0) continue;
      if (!outs[k].defined() && st.wanted[k])
        throw InternalError(fmt::format("{}: output {} was not produced", st.node->label(), k));
      values[st.outputs[k]] = std::move(outs[k]);
    }
    for (int s : st.release) values[s] = Tensor();
  }
  result.resize(output_slots_.size());
  for (size_t i = 0; i < output_slots_.size(); ++i) result[i] = values[output_slots_[i]];
}

void ExecutionPlan::check_output_devices(const Step& st, const std::vector<Tensor>& outs) const {
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].defined() || st.outputs[k] < 0) continue;
    const Device want = slot_devices_[st.outputs[k]], got = outs[k].device();
    if (!(got == want))
      throw InternalError(fmt::format("{} on {} left output {} in {} memory instead of {}; a device kernel allocates "
                                      "through KernelContext::allocate_output",
                                      st.node->label(), device_name(st.device), k, device_name(got),
                                      device_name(want)));
  }
}

PlanInfo ExecutionPlan::describe() const {
  PlanInfo info;
  info.device = device_;
  info.constants_on_device = constants_on_device_;
  for (const auto& st : steps_) {
    PlanStepInfo s;
    const Node& n = *st.node;
    s.op = n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + ":" + n.op_type;
    s.name = n.name;
    s.device = st.device;
    for (int i : st.inputs) s.inputs.push_back(i < 0 ? "" : slot_names_[i]);
    for (int o : st.outputs) s.outputs.push_back(o < 0 ? "" : slot_names_[o]);
    info.steps.push_back(std::move(s));
  }
  return info;
}

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i))
    throw BadModel(fmt::format("{}: required input {} is missing", node_.label(), i));
  return *inputs_[i];
}

Tensor& KernelContext::allocate_output(size_t i, DType dtype, Shape shape) {
  KILN_CHECK(i < outputs_.size(), BadModel, "{}: has no output {}", node_.label(), i);
  if (!allocator_ || (i < 64 && (cpu_outputs_ >> i & 1)))
    outputs_[i] = Tensor(dtype, std::move(shape));
  else
    outputs_[i] = Tensor(dtype, std::move(shape), *allocator_);
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
