// If, Loop and Scan: run compiled subgraphs (KernelInfo::subgraphs) in the node's scope.
#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/plan.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

std::shared_ptr<ExecutionPlan> subgraph(const KernelInfo& info, const char* name) {
  auto it = info.subgraphs.find(name);
  KILN_CHECK(it != info.subgraphs.end(), BadModel, "{}: needs the graph attribute {}", info.node.label(), name);
  return it->second;
}

bool read_bool(const Tensor& t, const Node& node, const char* what) {
  KILN_CHECK(t.numel() == 1, BadInput, "{}: {} must hold one value, has shape {}", node.label(), what,
             shape_str(t.shape()));
  if (t.dtype() == DType::Bool) return t.data<bool>()[0];
  return t.item_f64(0) != 0;
}

class IfKernel : public OpKernel {
 public:
  explicit IfKernel(const KernelInfo& info)
      : then_(subgraph(info, "then_branch")), else_(subgraph(info, "else_branch")) {}
  void compute(KernelContext& ctx) override {
    bool c = read_bool(ctx.input(0), ctx.node(), "cond");
    const ExecutionPlan& plan = c ? *then_ : *else_;
    std::vector<Tensor> outs = ctx.run_subgraph(plan, {});
    KILN_CHECK(outs.size() == ctx.num_outputs(), BadModel, "{}: the {} branch has {} outputs, the node {}",
               ctx.node().label(), c ? "then" : "else", outs.size(), ctx.num_outputs());
    for (size_t i = 0; i < outs.size(); ++i) ctx.set_output(i, outs[i]);
  }

 private:
  std::shared_ptr<ExecutionPlan> then_, else_;
};

// Stacks per-iteration tensors of one shape along a new axis `axis` (reversed when `reverse`).
Tensor stack(const std::vector<Tensor>& parts, int64_t axis, bool reverse, const Node& node) {
  const Tensor& first = parts[0];
  int r = first.rank();
  int64_t a = axis < 0 ? axis + r + 1 : axis;
  KILN_CHECK(a >= 0 && a <= r, BadModel, "{}: output axis {} is out of range", node.label(), axis);
  for (const auto& p : parts)
    KILN_CHECK(p.shape() == first.shape() && p.dtype() == first.dtype(), BadInput,
               "{}: iterations produced outputs of different shapes ({} and {})", node.label(),
               shape_str(first.shape()), shape_str(p.shape()));
  Shape out = first.shape();
  int64_t n = (int64_t)parts.size();
  out.insert(out.begin() + a, n);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= first.shape()[d];
  for (int d = (int)a; d < r; ++d) inner *= first.shape()[d];
  Tensor y(first.dtype(), out);
  for (int64_t t = 0; t < n; ++t) {
    const Tensor& p = parts[reverse ? n - 1 - t : t];
    for (int64_t o = 0; o < outer; ++o) copy_elements(y, (o * n + t) * inner, p, o * inner, inner);
  }
  return y;
}

// Slice t along `axis` of x (the axis removed).
Tensor take(const Tensor& x, int64_t axis, int64_t t) {
  Shape s = x.shape();
  int64_t n = s[axis];
  s.erase(s.begin() + axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = (int)axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
  if (outer == 1) {
    Tensor y(x.dtype(), s);
    copy_elements(y, 0, x, t * inner, inner);
    return y;
  }
  Tensor y(x.dtype(), s);
  for (int64_t o = 0; o < outer; ++o) copy_elements(y, o * inner, x, (o * n + t) * inner, inner);
  return y;
}

// Loop: body(iteration, cond, carried...) -> (cond, carried..., scan outputs...).
class LoopKernel : public OpKernel {
 public:
  explicit LoopKernel(const KernelInfo& info) : body_(subgraph(info, "body")) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    int64_t max_trips = INT64_MAX;
    if (ctx.has_input(0)) max_trips = ctx.input(0).item_i64(0);
    bool cond = true;
    if (ctx.has_input(1)) cond = read_bool(ctx.input(1), node, "cond");
    size_t n_carried = ctx.num_inputs() >= 2 ? ctx.num_inputs() - 2 : 0;
    std::vector<Tensor> carried;
    for (size_t i = 0; i < n_carried; ++i) carried.push_back(ctx.input(2 + i));
    size_t body_outs = body_->num_outputs();
    KILN_CHECK(body_outs >= 1 + n_carried, BadModel, "{}: the body has {} outputs for {} loop-carried values",
               node.label(), body_outs, n_carried);
    size_t n_scan = body_outs - 1 - n_carried;
    std::vector<std::vector<Tensor>> scans(n_scan);
    for (int64_t it = 0; it < max_trips && cond; ++it) {
      std::vector<Tensor> ins;
      ins.push_back(Tensor::scalar<int64_t>(it));
      ins.push_back(Tensor::scalar<bool>(cond));
      for (auto& c : carried) ins.push_back(c);
      std::vector<Tensor> outs = ctx.run_subgraph(*body_, ins);
      cond = read_bool(outs[0], node, "the body's condition output");
      for (size_t i = 0; i < n_carried; ++i) carried[i] = outs[1 + i];
      for (size_t i = 0; i < n_scan; ++i) scans[i].push_back(outs[1 + n_carried + i]);
    }
    for (size_t i = 0; i < n_carried && i < ctx.num_outputs(); ++i) ctx.set_output(i, carried[i]);
    for (size_t i = 0; i < n_scan && n_carried + i < ctx.num_outputs(); ++i) {
      if (scans[i].empty()) {
        // No iteration ran: an empty tensor. The element type comes from the body's declared output.
        const ValueInfo& vi = body_->graph().outputs[1 + n_carried + i];
        DType dt = vi.dtype == DType::Undefined ? DType::F32 : vi.dtype;
        Shape s{0};
        if (vi.shape)
          for (const auto& d : *vi.shape) s.push_back(d.value ? *d.value : 0);
        ctx.set_output(n_carried + i, Tensor(dt, s));
      } else {
        ctx.set_output(n_carried + i, stack(scans[i], 0, false, node));
      }
    }
  }

 private:
  std::shared_ptr<ExecutionPlan> body_;
};

// Scan: states then scan inputs; body(states..., slices...) -> (states..., scan outputs...).
// Opset 9+ works on whole tensors with per-input axes; opset 8 has a leading batch axis on every
// input and output (and optional sequence_lens), run here as one opset-9 scan per batch entry.
class ScanKernel : public OpKernel {
 public:
  explicit ScanKernel(const KernelInfo& info) : body_(subgraph(info, "body")), batched_(info.opset < 9) {
    const Node& n = info.node;
    num_scan_inputs_ = n.attr_int("num_scan_inputs", -1);
    KILN_CHECK(num_scan_inputs_ >= 1, BadModel, "{}: needs the attribute num_scan_inputs", n.label());
    in_dirs_ = n.attr_ints(batched_ ? "directions" : "scan_input_directions");
    out_dirs_ = n.attr_ints("scan_output_directions");
    in_axes_ = n.attr_ints("scan_input_axes");
    out_axes_ = n.attr_ints("scan_output_axes");
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    size_t m = (size_t)num_scan_inputs_;
    size_t first = batched_ ? 1 : 0;  // opset 8: input 0 is sequence_lens
    KILN_CHECK(ctx.num_inputs() >= first + m, BadModel, "{}: fewer inputs than num_scan_inputs", node.label());
    size_t n_state = ctx.num_inputs() - first - m;
    std::vector<Tensor> state;
    std::vector<Tensor> xs;
    for (size_t i = 0; i < n_state; ++i) state.push_back(ctx.input(first + i));
    for (size_t j = 0; j < m; ++j) xs.push_back(ctx.input(first + n_state + j));
    if (!batched_) {
      auto outs = run(ctx, state, xs, -1);
      for (size_t i = 0; i < outs.size() && i < ctx.num_outputs(); ++i) ctx.set_output(i, outs[i]);
      return;
    }
    KILN_CHECK(!xs.empty() && xs[0].rank() >= 2, BadInput, "{}: scan inputs must be [batch, sequence, ...]",
               node.label());
    int64_t batch = xs[0].shape()[0];
    std::vector<int64_t> lens;
    if (ctx.has_input(0)) lens = ctx.input(0).to_i64_vector();
    std::vector<std::vector<Tensor>> per_batch;
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<Tensor> sb, xb;
      for (auto& t : state) sb.push_back(take(t, 0, b));
      for (auto& t : xs) xb.push_back(take(t, 0, b));
      per_batch.push_back(run(ctx, sb, xb, lens.empty() ? -1 : lens.at(b)));
    }
    for (size_t i = 0; i < per_batch[0].size() && i < ctx.num_outputs(); ++i) {
      std::vector<Tensor> parts;
      for (auto& pb : per_batch) parts.push_back(pb[i]);
      ctx.set_output(i, stack(parts, 0, false, node));
    }
  }

 private:
  // One scan over unbatched tensors; `limit` (>= 0) caps the number of steps.
  std::vector<Tensor> run(KernelContext& ctx, std::vector<Tensor> state, const std::vector<Tensor>& xs,
                          int64_t limit) const {
    const Node& node = ctx.node();
    size_t m = xs.size(), n_state = state.size();
    std::vector<int64_t> axes;
    int64_t len = -1;
    for (size_t j = 0; j < m; ++j) {
      const Tensor& x = xs[j];
      int64_t a = j < in_axes_.size() ? in_axes_[j] : 0;
      a = normalize_axis(a, x.rank(), node);
      KILN_CHECK(len < 0 || x.shape()[a] == len, BadInput, "{}: scan inputs differ in length ({} and {})",
                 node.label(), len, x.shape()[a]);
      len = x.shape()[a];
      axes.push_back(a);
    }
    int64_t steps = limit >= 0 ? std::min(limit, len) : len;
    size_t n_out = body_->num_outputs();
    KILN_CHECK(n_out >= n_state, BadModel, "{}: the body has fewer outputs than states", node.label());
    size_t k = n_out - n_state;
    std::vector<std::vector<Tensor>> scans(k);
    for (int64_t t = 0; t < steps; ++t) {
      std::vector<Tensor> ins = state;
      for (size_t j = 0; j < m; ++j) {
        bool rev = j < in_dirs_.size() && in_dirs_[j] == 1;
        ins.push_back(take(xs[j], axes[j], rev ? steps - 1 - t : t));
      }
      std::vector<Tensor> outs = ctx.run_subgraph(*body_, ins);
      for (size_t i = 0; i < n_state; ++i) state[i] = outs[i];
      for (size_t i = 0; i < k; ++i) scans[i].push_back(outs[n_state + i]);
    }
    std::vector<Tensor> result = state;
    for (size_t i = 0; i < k; ++i) {
      bool rev = i < out_dirs_.size() && out_dirs_[i] == 1;
      int64_t a = i < out_axes_.size() ? out_axes_[i] : 0;
      if (scans[i].empty()) {
        const ValueInfo& vi = body_->graph().outputs[n_state + i];
        result.push_back(Tensor(vi.dtype == DType::Undefined ? DType::F32 : vi.dtype, {0}));
        continue;
      }
      result.push_back(stack(scans[i], a, rev, node));
    }
    return result;
  }

  std::shared_ptr<ExecutionPlan> body_;
  bool batched_;
  int64_t num_scan_inputs_;
  std::vector<int64_t> in_dirs_, out_dirs_, in_axes_, out_axes_;
};

template <typename K>
KernelFactory make() {
  return [](const KernelInfo& info) { return std::make_unique<K>(info); };
}

}  // namespace

KILN_REGISTER_KERNELS(register_control_flow_kernels) {
  r.add({DeviceType::Cpu, "", "If", 1, kMaxOpset}, make<IfKernel>());
  r.add({DeviceType::Cpu, "", "Loop", 1, kMaxOpset}, make<LoopKernel>());
  r.add({DeviceType::Cpu, "", "Scan", 8, kMaxOpset}, make<ScanKernel>());
}

}  // namespace kiln::cpu
