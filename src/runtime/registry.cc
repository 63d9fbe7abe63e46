#include "runtime/registry.h"

#include <algorithm>

namespace kiln {

static std::vector<std::pair<KernelRegistration, std::string>>& registrations() {
  static std::vector<std::pair<KernelRegistration, std::string>> list;
  return list;
}

// __FILE__ is the path the compiler was given (absolute, or relative to the build folder): keep
// what follows the last "src/" folder, so the index reads the same in every checkout.
static std::string source_path(const char* file) {
  std::string f = file ? file : "";
  size_t at = f.rfind("/src/");
  if (at != std::string::npos) return f.substr(at + 5);
  if (f.rfind("src/", 0) == 0) return f.substr(4);
  while (f.rfind("../", 0) == 0) f.erase(0, 3);
  return f;
}

bool add_kernel_registration(KernelRegistration fn, const char* file) {
  registrations().emplace_back(fn, source_path(file));
  return true;
}

const KernelRegistry& KernelRegistry::global() {
  static const KernelRegistry r = [] {
    KernelRegistry reg;
    for (const auto& [fn, file] : registrations()) {
      size_t first = reg.entries_.size();
      fn(reg);
      for (size_t i = first; i < reg.entries_.size(); ++i) reg.entries_[i].def.source = file;
    }
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
