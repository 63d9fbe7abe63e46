// kiln ops [--json] [--domain D] [--op NAME]: every kernel the runtime has, from the registry
// itself: domain, op type, opset range, the input types it is limited to, and its priority.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "runtime/registry.h"

KILN_COMMAND(ops_command, "ops", "List every kernel: domain, op type, opset range, input types") {
  struct Opts {
    bool json = false;
    std::string domain, op;
  };
  auto o = std::make_shared<Opts>();
  sub.add_flag("--json", o->json, "print one JSON array of {device, domain, op, since, until, types, priority}");
  sub.add_option("--domain", o->domain, "only this domain (ai.onnx, com.microsoft, kiln)");
  sub.add_option("--op", o->op, "only this op type");
  return [o] {
    std::vector<kiln::KernelDef> defs = kiln::KernelRegistry::global().all();
    auto domain_of = [](const kiln::KernelDef& d) { return d.domain.empty() ? std::string("ai.onnx") : d.domain; };
    std::sort(defs.begin(), defs.end(), [&](const kiln::KernelDef& a, const kiln::KernelDef& b) {
      return std::make_tuple(domain_of(a), a.op_type, a.since, -a.priority) <
             std::make_tuple(domain_of(b), b.op_type, b.since, -b.priority);
    });
    nlohmann::json all = nlohmann::json::array();
    for (const auto& d : defs) {
      if (!o->domain.empty() && domain_of(d) != o->domain) continue;
      if (!o->op.empty() && d.op_type != o->op) continue;
      std::vector<std::string> types;
      for (kiln::DType t : d.input0_types) types.emplace_back(kiln::dtype_name(t));
      std::string device(kiln::device_type_name(d.device));
      if (o->json) {
        all.push_back({{"device", device}, {"domain", domain_of(d)}, {"op", d.op_type}, {"since", d.since},
                       {"until", d.until}, {"types", types}, {"priority", d.priority}});
        continue;
      }
      std::string range = d.until >= kiln::kMaxOpset ? std::to_string(d.since) + "+"
                                                    : std::to_string(d.since) + "-" + std::to_string(d.until);
      std::string ts;
      for (const auto& t : types) ts += (ts.empty() ? "" : ",") + t;
      std::printf("%-4s %-14s %-36s %-8s %s%s\n", device.c_str(), domain_of(d).c_str(), d.op_type.c_str(),
                  range.c_str(), ts.empty() ? "any" : ts.c_str(),
                  d.priority ? (" priority " + std::to_string(d.priority)).c_str() : "");
    }
    if (o->json) std::cout << all.dump() << "\n";
    return 0;
  };
}
