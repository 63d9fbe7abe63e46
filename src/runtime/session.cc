#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "core/device_registry.h"
#include "core/limits.h"
#include "core/threads.h"
#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "runtime/kernels/cpu/qgemm_vnni.h"
#include "runtime/plan.h"
#include "runtime/reuse_pool.h"

namespace kiln {

// The options with the device checked before anything is loaded: Unsupported when this build has
// no backend for it. The CPU's index is always 0.
static SessionOptions checked(SessionOptions options) {
  if (options.device.is_cpu()) options.device = Device{};
  require_allocator(options.device);
  return options;
}

Session::Session(const std::string& path, SessionOptions options)
    : options_(checked(options)), model_(std::make_unique<Model>(load_model(path, load_limits(options_)))) {
  init();
}

// The loader checks the nesting of subgraphs as it reads them; a model made in memory is checked here.
static void check_nesting(const Graph& g, int depth, const LoadLimits& limits) {
  check_subgraph_depth(depth, g.name, limits);
  for (const auto& n : g.nodes)
    for (const auto& [_, a] : n.attributes) {
      if (a.g) check_nesting(*a.g, depth + 1, limits);
      for (const auto& sg : a.graphs) check_nesting(*sg, depth + 1, limits);
    }
}

Model read_model(const std::string& path, const SessionOptions& o) { return load_model(path, load_limits(o)); }

Session::Session(Model model, SessionOptions options)
    : options_(checked(options)), model_(std::make_unique<Model>(std::move(model))) {
  init();
}

Session::~Session() = default;

std::vector<std::string> missing_kernels(const Model& model) {
  return find_missing_kernels(model.graph, OpsetMap::from(model), KernelRegistry::global());
}

// Runs one node on constant inputs with the CPU kernels (for constant folding).
static std::optional<std::vector<Tensor>> evaluate_node(const Node& n, const std::vector<const Tensor*>& ins,
                                                        const OpsetMap& opsets) {
  const auto& reg = KernelRegistry::global();
  int64_t v = opsets.get(n.domain);
  const RegisteredKernel* k = reg.find(DeviceType::Cpu, n.domain, n.op_type, v);
  if (!k) return std::nullopt;
  try {
    KernelInfo info{n};
    info.opset = v;
    info.constant_inputs = ins;
    for (const Tensor* t : ins) info.input_types.push_back(t ? t->dtype() : DType::Undefined);
    auto kernel = k->factory(info);
    std::vector<Tensor> outs(n.outputs.size());
    std::vector<bool> wanted(n.outputs.size(), true);
    KernelContext ctx(n, ins, outs, wanted, nullptr);
    kernel->compute(ctx);
    for (size_t i = 0; i < outs.size(); ++i)
      if (!n.outputs[i].empty() && !outs[i].defined()) return std::nullopt;
    return outs;
  } catch (const Error&) {
    return std::nullopt;  // leave it for run time, where the error reaches the user with context
  }
}

struct Session::RunLists {
  struct Lists {
    std::vector<const Tensor*> ins;
    std::vector<Tensor> outs;
  };
  ReusePool<Lists> pool;
  // What stands in for each optional input a run leaves out: an empty tensor of its type and rank.
  std::map<std::string, Tensor> absent;
};

static std::string dims_str(const ValueInfo& v);

// SessionOptions::fixed_inputs: each named input becomes an initializer holding the given tensor.
static void fix_inputs(Graph& g, const NamedTensors& fixed) {
  for (const auto& [name, t] : fixed) {
    auto it = std::find_if(g.inputs.begin(), g.inputs.end(), [&](const ValueInfo& v) { return v.name == name; });
    if (it == g.inputs.end()) {
      std::string names;
      for (const ValueInfo& v : g.inputs) names += (names.empty() ? "" : ", ") + v.name;
      throw BadInput(fmt::format("fixed input '{}' is not an input of graph '{}' (its inputs: {}); fix only inputs it has",
                                 name, g.name, names));
    }
    KILN_CHECK(t.defined(), BadInput, "fixed input '{}' has no value; give it a tensor", name);
    KILN_CHECK(it->dtype == DType::Undefined || it->dtype == t.dtype(), BadInput,
               "fixed input '{}' is {}, the graph declares {}; give it a {} tensor", name, dtype_name(t.dtype()),
               dtype_name(it->dtype), dtype_name(it->dtype));
    if (it->shape) {
      bool fits = it->shape->size() == (size_t)t.rank();
      for (size_t d = 0; fits && d < it->shape->size(); ++d)
        fits = !(*it->shape)[d].value || *(*it->shape)[d].value == t.dim((int64_t)d);
      KILN_CHECK(fits, BadInput, "fixed input '{}' has shape {}, the graph declares {}; give it that shape", name,
                 shape_str(t.shape()), dims_str(*it));
    }
    g.initializers[name] = t;
    g.inputs.erase(it);
  }
}

void Session::init() {
  check_nesting(model_->graph, 0, load_limits(options_));
  fix_inputs(model_->graph, options_.fixed_inputs);
  if (!options_.check_input_shapes)
    for (ValueInfo& v : model_->graph.inputs) v.shape.reset();
  // Kernels made here (packed weights, oneDNN primitives) are made for this session's thread count.
  // The first session also sets the process default, for work outside runs (a pipeline's tokenizer).
  configure_threads_once(options_.threads);
  ThreadScope threads(options_.threads);
  // Constant folding allocates too: a folded node over max_tensor_bytes is left for the run, which
  // then reports it.
  RunLimits limits;
  limits.max_tensor_bytes = options_.max_tensor_bytes;
  RunLimitsScope limit_scope(&limits);
  OpsetMap opsets = OpsetMap::from(*model_);
  if (options_.optimization_level >= 1) {
    auto evaluate = [&](const Node& n, const std::vector<const Tensor*>& ins) { return evaluate_node(n, ins, opsets); };
    fold_constants(model_->graph, evaluate);
    // A branch taken on every run joins the graph, and what it computes from constants is folded.
    if (inline_constant_ifs(model_->graph) > 0) fold_constants(model_->graph, evaluate);
    if (options_.optimization_level >= 2) {
      fuse_layer_norm(model_->graph);
      fuse_rms_norm(model_->graph);
      fuse_gelu(model_->graph);
      fuse_matmul_integer_to_float(model_->graph);
      fuse_matmul_bias(model_->graph);
      fuse_matmul_gelu(model_->graph);
      fuse_matmul_integer_residual(model_->graph);
      fuse_matmul_bias_residual(model_->graph);
      fuse_conv_activation(model_->graph);
      conv_channels_last(model_->graph);
      fuse_attention(model_->graph);
      if (options_.kv_cache_in_place) keep_kv_cache_time_major(model_->graph);
      fuse_dynamic_quantize_range(model_->graph);
      if (options_.device.is_cpu() && cpu::vnni_gemm_reads_row_tiles()) tile_quantized_activations(model_->graph);
      if (options_.device.is_cpu()) fuse_attention_projections(model_->graph, cpu::vnni_gemm_supported());
    }
    remove_dead_nodes(model_->graph);
  }
  if (!options_.fixed_inputs.empty()) remove_unread_inputs(model_->graph);
  lists_ = std::make_unique<RunLists>();
  for (const ValueInfo& v : model_->graph.inputs)
    if (v.optional) lists_->absent[v.name] = Tensor(v.dtype, Shape(v.shape ? v.shape->size() : 0, 0));
  plan_ = std::make_unique<ExecutionPlan>(model_->graph, opsets, KernelRegistry::global(), std::vector<std::string>{},
                                          options_.device);
}

PlanInfo describe_plan(const Session& session) { return session.plan().describe(); }

const std::vector<ValueInfo>& Session::inputs() const { return model_->graph.inputs; }
const std::vector<ValueInfo>& Session::outputs() const { return model_->graph.outputs; }

std::vector<TensorInfo> tensor_infos(const std::vector<ValueInfo>& values) {
  std::vector<TensorInfo> out;
  for (const ValueInfo& v : values) {
    TensorInfo t;
    t.name = v.name;
    t.dtype = v.dtype;
    t.has_rank = v.shape.has_value();
    t.is_tensor = !v.is_sequence;
    t.time_major = v.time_major;
    t.optional = v.optional;
    if (v.shape)
      for (const Dim& d : *v.shape) {
        t.shape.push_back(d.value.value_or(-1));
        t.dim_names.push_back(d.symbol);
      }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<TensorInfo> Session::input_info() const { return tensor_infos(inputs()); }
std::vector<TensorInfo> Session::output_info() const { return tensor_infos(outputs()); }

static std::string dims_str(const ValueInfo& v) {
  if (!v.shape) return "any shape";
  std::string s = "[";
  for (size_t i = 0; i < v.shape->size(); ++i) {
    if (i) s += ", ";
    const Dim& d = (*v.shape)[i];
    s += d.value ? std::to_string(*d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

void Session::validate(const NamedTensors& feeds) const {
  for (const auto& [name, _] : feeds) {
    if (model_->graph.find_input(name)) continue;
    std::string names;
    for (const auto& v : model_->graph.inputs) names += (names.empty() ? "" : ", ") + v.name;
    throw BadInput(fmt::format("unknown input '{}'; the model's inputs are: {}", name, names));
  }
  for (const auto& v : model_->graph.inputs) {
    auto it = feeds.find(v.name);
    if (it == feeds.end() && v.optional) continue;
    KILN_CHECK(it != feeds.end(), BadInput, "input '{}' ({} {}) is missing", v.name, dtype_name(v.dtype), dims_str(v));
    const Tensor& t = it->second;
    KILN_CHECK(t.device().is_cpu(), BadInput, "input '{}' is in {} memory; feeds are given in CPU memory", v.name,
               device_name(t.device()));
    KILN_CHECK(v.dtype == DType::Undefined || t.dtype() == v.dtype, BadInput,
               "input '{}' must be {} but is {}", v.name, dtype_name(v.dtype), dtype_name(t.dtype()));
    if (!v.shape) continue;
    KILN_CHECK((size_t)t.rank() == v.shape->size(), BadInput, "input '{}' must have shape {} (rank {}) but has {}",
               v.name, dims_str(v), v.shape->size(), shape_str(t.shape()));
    for (size_t i = 0; i < v.shape->size(); ++i) {
      const Dim& d = (*v.shape)[i];
      KILN_CHECK(!d.value || *d.value == t.shape()[i], BadInput,
                 "input '{}' must have shape {} but has {} (dimension {} differs)", v.name, dims_str(v),
                 shape_str(t.shape()), i);
    }
  }
}

void Session::run_plan(const NamedTensors& feeds, std::vector<const Tensor*>& ins, std::vector<Tensor>& outs) const {
  ThreadScope threads(options_.threads);
  RunLimits limits;
  limits.max_tensor_bytes = options_.max_tensor_bytes;
  limits.timeout_ms = std::max<int64_t>(0, options_.run_timeout_ms);
  limits.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.timeout_ms);
  RunLimitsScope limit_scope(&limits);
  validate(feeds);
  ins.clear();
  for (const auto& v : model_->graph.inputs) {
    auto it = feeds.find(v.name);
    ins.push_back(it != feeds.end() ? &it->second : &lists_->absent.at(v.name));
  }
  plan_->run(ins, outs, nullptr);
}

// BadInput for a requested output the graph does not have.
static void check_output_names(const std::vector<ValueInfo>& gouts, const std::vector<std::string>& names) {
  for (const auto& want : names) {
    bool found = false;
    for (const auto& g : gouts) found = found || g.name == want;
    KILN_CHECK(found, BadInput, "the model has no output named '{}'", want);
  }
}

NamedTensors Session::run(const NamedTensors& feeds, const std::vector<std::string>& output_names) const {
  NamedTensors result;
  run(feeds, result, output_names);
  return result;
}

void Session::run(const NamedTensors& feeds, NamedTensors& outputs, const std::vector<std::string>& output_names) const {
  const auto& gouts = model_->graph.outputs;
  check_output_names(gouts, output_names);
  auto lists = lists_->pool.take([] { return std::make_unique<RunLists::Lists>(); });
  std::vector<Tensor>& outs = lists->outs;
  struct Clear {  // the lists keep no tensor alive between runs
    std::vector<Tensor>& outs;
    ~Clear() {
      for (Tensor& t : outs) t = Tensor();
    }
  } clear{outs};
  run_plan(feeds, lists->ins, outs);
  auto wanted = [&](const std::string& name) {
    if (output_names.empty()) return true;
    for (const auto& w : output_names)
      if (w == name) return true;
    return false;
  };
  for (auto it = outputs.begin(); it != outputs.end();) {
    bool keep = false;
    for (const auto& g : gouts) keep = keep || (g.name == it->first && wanted(g.name));
    it = keep ? std::next(it) : outputs.erase(it);
  }
  for (size_t i = 0; i < gouts.size(); ++i) {
    if (!wanted(gouts[i].name)) continue;
    auto it = outputs.find(gouts[i].name);
    if (it != outputs.end()) it->second = std::move(outs[i]);
    else outputs.emplace(gouts[i].name, std::move(outs[i]));
  }
}

}  // namespace kiln
