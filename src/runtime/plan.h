// ExecutionPlan: a graph compiled for running. Nodes in topological order with their kernels and
// devices (runtime/placement.h), values in numbered slots, a copy step wherever a value crosses
// devices, and for each step the slots to release after it runs (last use). If/Loop/Scan bodies
// are plans too; they read enclosing values through the parent Frame.
#pragma once
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/graph.h"
#include "runtime/kernel.h"
#include "runtime/plan_info.h"
#include "runtime/registry.h"
#include "runtime/reuse_pool.h"

namespace kiln {

struct OpsetMap {
  std::map<std::string, int64_t> versions;  // canonical domain -> version
  int64_t get(const std::string& domain) const;
  static OpsetMap from(const Model& m);
};

// Ops of a graph (subgraphs included) that no kernel implements, on `device` nor on the CPU:
// "domain:Op (opset N)" each.
std::vector<std::string> find_missing_kernels(const Graph& g, const OpsetMap& opsets, const KernelRegistry& reg,
                                              DeviceType device = DeviceType::Cpu);

class ExecutionPlan {
 public:
  // Compiles `graph` (which must outlive the plan). `outer` are names visible from enclosing graphs.
  // `device`: where nodes run when it has their kernel (the CPU otherwise; subgraphs always run on
  // the CPU). Inputs arrive and outputs leave in CPU memory; a value read on another device than
  // the one it was made on is copied by a step inserted before its first reader there (initializers
  // once, here). Throws Unsupported when no backend serves `device`.
  ExecutionPlan(const Graph& graph, const OpsetMap& opsets, const KernelRegistry& reg,
                const std::vector<std::string>& outer = {}, Device device = {});
  ~ExecutionPlan();

  const Graph& graph() const { return graph_; }
  size_t num_inputs() const { return input_slots_.size(); }
  size_t num_outputs() const { return output_slots_.size(); }

  // Runs with one tensor per graph input (in order). `parent` resolves outer-scope names.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const Frame* parent = nullptr) const;
  // The same, with the inputs given by address and the outputs written into `outputs` (resized to
  // num_outputs(); its storage is reused). The run's value slots and per-step lists come from a
  // pool kept by the plan, so a run after the first ones allocates nothing here.
  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& outputs, const Frame* parent = nullptr) const;

  // The steps in running order, copies included (kiln inspect --plan).
  PlanInfo describe() const;

 private:
  friend class Frame;
  struct Step {
    const Node* node;
    std::unique_ptr<OpKernel> kernel;
    std::vector<int> inputs;   // slot per node input, -1 when absent
    std::vector<int> outputs;  // slot per node output, -1 when absent
    std::vector<bool> wanted;  // output read by someone
    std::vector<int> release;  // slots whose last use is this step
    Device device;             // where it runs (a copy: its destination)
    Allocator* allocator = nullptr;  // the device's allocator for a node off the CPU, else null
    uint64_t cpu_outputs = 0;        // outputs such a node makes in CPU memory (a bit each)
  };

  int slot_of(const std::string& name);
  int new_slot(const std::string& name, Device device);
  // Throws InternalError when a kernel off the CPU left an output in the wrong memory.
  void check_output_devices(const Step& st, const std::vector<Tensor>& outs) const;

  // What one run needs besides the kernels: the value slots and the lists each step fills.
  struct RunState;
  mutable std::unique_ptr<ReusePool<RunState>> states_;

  const Graph& graph_;
  Device device_;
  std::vector<Step> steps_;
  std::deque<Node> copy_nodes_;  // the nodes of copy steps (not in the graph)
  std::vector<Device> slot_devices_;        // where each slot's value lives
  std::vector<std::string> constants_on_device_;
  // Value name -> slot. Once planned, what subgraphs read a name from: for a value made on a device,
  // its CPU copy.
  std::unordered_map<std::string, int> slots_;
  std::vector<std::string> slot_names_;
  std::vector<std::pair<int, Tensor>> constants_;       // initializer slots
  std::vector<std::pair<int, std::string>> outer_;      // slots filled from the parent frame
  std::vector<int> input_slots_;
  std::vector<int> output_slots_;
};

// The values of one run of a plan.
class Frame {
 public:
  Frame(const ExecutionPlan& plan, const Frame* parent) : plan_(plan), parent_(parent), values_(plan.slot_names_.size()) {}
  // The frame for another run (frames are reused, see ExecutionPlan::RunState).
  void set_parent(const Frame* parent) { parent_ = parent; }
  // The value of `name` here or in an enclosing frame; null when not (yet) computed.
  const Tensor* lookup(const std::string& name) const;
  std::vector<Tensor>& values() { return values_; }

 private:
  const ExecutionPlan& plan_;
  const Frame* parent_;
  std::vector<Tensor> values_;
};

}  // namespace kiln
