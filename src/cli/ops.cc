// kiln ops [--json] [--domain D] [--op NAME]: every kernel the runtime has, from the registry
// itself: domain, op type, opset range, the source file that defines it, the input types it is
// limited to, and its priority.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "kiln/inspect.h"

KILN_COMMAND(ops_command, "ops", "List every kernel: domain, op type, opset range, source file, input types") {
  struct Opts {
    bool json = false;
    std::string domain, op;
  };
  auto o = std::make_shared<Opts>();
  sub.add_flag("--json", o->json, "print one JSON array of {device, domain, op, since, until, types, priority, source}");
  sub.add_option("--domain", o->domain, "only this domain (ai.onnx, com.microsoft, kiln)");
  sub.add_option("--op", o->op, "only this op type");
  return [o] {
    nlohmann::json all = nlohmann::json::array();
    for (const kiln::KernelEntry& k : kiln::registered_kernels()) {
      if (!o->domain.empty() && k.domain != o->domain) continue;
      if (!o->op.empty() && k.op != o->op) continue;
      std::vector<std::string> types;
      for (kiln::DType t : k.types) types.emplace_back(kiln::dtype_name(t));
      if (o->json) {
        all.push_back({{"device", k.device}, {"domain", k.domain}, {"op", k.op}, {"since", k.since},
                       {"until", k.until}, {"types", types}, {"priority", k.priority}, {"source", k.source}});
        continue;
      }
      std::string range = k.open_ended() ? std::to_string(k.since) + "+"
                                         : std::to_string(k.since) + "-" + std::to_string(k.until);
      std::string ts;
      for (const auto& t : types) ts += (ts.empty() ? "" : ",") + t;
      std::printf("%-4s %-14s %-36s %-8s %-44s %s%s\n", k.device.c_str(), k.domain.c_str(), k.op.c_str(),
                  range.c_str(), k.source.c_str(), ts.empty() ? "any" : ts.c_str(),
                  k.priority ? (" priority " + std::to_string(k.priority)).c_str() : "");
    }
    if (o->json) std::cout << all.dump() << "\n";
    return 0;
  };
}
