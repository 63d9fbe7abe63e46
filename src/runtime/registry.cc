#include "runtime/registry.h"

#include <algorithm>

namespace kiln {

static std::vector<KernelRegistration>& registrations() {
  static std::vector<KernelRegistration> list;
  return list;
}

bool add_kernel_registration(KernelRegistration fn) {
  registrations().push_back(fn);
  return true;
}

const KernelRegistry& KernelRegistry::global() {
  static const KernelRegistry r = [] {
    KernelRegistry reg;
    for (auto fn : registrations()) fn(reg);
    // Highest priority first; equal priorities keep registration order.
    std::stable_sort(reg.entries_.begin(), reg.entries_.end(),
                     [](const RegisteredKernel& a, const RegisteredKernel& b) {
                       return a.def.priority > b.def.priority;
                     });
    return reg;
  }();
  return r;
}

void KernelRegistry::add(KernelDef def, KernelFactory factory) {
  def.domain = canonical_domain(def.domain);
  for (int o : def.cpu_outputs)
    KILN_CHECK(o >= 0 && o < 64, InternalError, "{}: cpu_outputs names output {}; kiln tracks outputs 0-63",
               def.op_type, o);
  entries_.push_back({std::move(def), std::move(factory)});
}

void KernelRegistry::add_fn(const std::string& domain, const std::string& op, int64_t since, int64_t until,
                            FunctionKernel::Fn fn) {
  KernelDef def;
  def.domain = domain;
  def.op_type = op;
  def.since = since;
  def.until = until;
  add(std::move(def), [fn = std::move(fn)](const KernelInfo&) { return std::make_unique<FunctionKernel>(fn); });
}

const RegisteredKernel* KernelRegistry::find(DeviceType device, const std::string& domain, const std::string& op,
                                             int64_t opset, DType input0) const {
  std::string d = canonical_domain(domain);
  for (const auto& e : entries_) {
    const auto& k = e.def;
    if (k.device != device || k.op_type != op || k.domain != d) continue;
    if (opset < k.since || opset > k.until) continue;
    if (input0 != DType::Undefined && !k.input0_types.empty() &&
        std::find(k.input0_types.begin(), k.input0_types.end(), input0) == k.input0_types.end())
      continue;
    return &e;
  }
  return nullptr;
}

bool KernelRegistry::knows(const std::string& domain, const std::string& op) const {
  std::string d = canonical_domain(domain);
  for (const auto& e : entries_)
    if (e.def.op_type == op && e.def.domain == d) return true;
  return false;
}

std::vector<KernelDef> KernelRegistry::all() const {
  std::vector<KernelDef> out;
  for (const auto& e : entries_) out.push_back(e.def);
  return out;
}

}  // namespace kiln
