// What a kernel is and what it sees. A kernel is created once per node when a session is planned
// (KernelInfo: the node, its opset, constant inputs for pre-packing) and then computes many times
// (KernelContext: this run's inputs, outputs to allocate, subgraphs to run). A kernel runs on the
// device the plan placed its node on: its inputs are in that device's memory (but for the inputs
// its KernelDef reads on the CPU) and allocate_output takes memory from that device's allocator.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace kiln {

class ExecutionPlan;
class Frame;

struct KernelInfo {
  const Node& node;
  int64_t opset = 0;  // opset version of the node's domain in this model
  // One entry per node input: the tensor when the input is a constant (initializer), else null.
  // Always the CPU copy (for packing weights), whatever the node's device; at run time the kernel
  // gets the input in its device's memory like any other.
  std::vector<const Tensor*> constant_inputs = {};
  // One entry per node input: the dtype when known before running (graph input/initializer), else Undefined.
  std::vector<DType> input_types = {};
  // Compiled subgraphs by attribute name (If: then_branch/else_branch, Loop/Scan: body).
  std::map<std::string, std::shared_ptr<ExecutionPlan>> subgraphs = {};

  const Tensor* constant(size_t i) const { return i < constant_inputs.size() ? constant_inputs[i] : nullptr; }
  bool has_input(size_t i) const { return i < node.inputs.size() && !node.inputs[i].empty(); }
};

class KernelContext {
 public:
  // `inputs` and `wanted` are the caller's and must outlive the context (nothing is copied, so a
  // step of a run allocates nothing here). `allocator`: the node's device's, null for the CPU;
  // `cpu_outputs`: a bit per output its kernel makes in CPU memory whatever its device
  // (KernelDef::cpu_outputs).
  KernelContext(const Node& node, std::span<const Tensor* const> inputs, std::vector<Tensor>& outputs,
                const std::vector<bool>& wanted, Frame* frame, Allocator* allocator = nullptr,
                uint64_t cpu_outputs = 0)
      : node_(node), inputs_(inputs), outputs_(outputs), wanted_(wanted), frame_(frame), allocator_(allocator),
        cpu_outputs_(cpu_outputs) {}

  const Node& node() const { return node_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  // The input, or null when the optional input is absent.
  const Tensor* input_or_null(size_t i) const { return has_input(i) ? inputs_[i] : nullptr; }
  // The input; throws BadModel naming the node when it is absent.
  const Tensor& input(size_t i) const;
  // Whether anyone reads output i (optional outputs may be skipped).
  bool output_wanted(size_t i) const { return i < wanted_.size() && wanted_[i]; }
  // Allocates output i with the given type and shape, in the memory of the node's device, and
  // returns it.
  Tensor& allocate_output(size_t i, DType dtype, Shape shape);
  // Sets output i to an existing tensor (e.g. a reshaped view of an input), which must be in the
  // memory of the node's device.
  void set_output(size_t i, Tensor t);
  // Output i as set so far (undefined before allocate_output / set_output).
  const Tensor& output(size_t i) const { return outputs_.at(i); }
  // The device the node runs on, and its allocator (for a device kernel's temporaries).
  Device device() const { return allocator_ ? allocator_->device() : Device{}; }
  Allocator* allocator() const { return allocator_; }
  // Runs a compiled subgraph with the given inputs in the scope of this node; returns its outputs.
  std::vector<Tensor> run_subgraph(const ExecutionPlan& plan, const std::vector<Tensor>& inputs) const;

 private:
  const Node& node_;
  std::span<const Tensor* const> inputs_;
  std::vector<Tensor>& outputs_;
  const std::vector<bool>& wanted_;
  Frame* frame_;
  Allocator* allocator_;  // null: the CPU
  uint64_t cpu_outputs_;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void compute(KernelContext& ctx) = 0;
};

// A kernel made from a plain function (for ops without state worth preparing).
class FunctionKernel : public OpKernel {
 public:
  using Fn = std::function<void(KernelContext&)>;
  explicit FunctionKernel(Fn fn) : fn_(std::move(fn)) {}
  void compute(KernelContext& ctx) override { fn_(ctx); }

 private:
  Fn fn_;
};

}  // namespace kiln
