#include "eval/machine.h"

#include "core/threads.h"
#include "kiln/cpu.h"

namespace kiln::eval {

nlohmann::json MachineInfo::to_json() const {
  return {{"cpu", cpu}, {"isa", isa}, {"vnni", vnni}, {"amx", amx}, {"threads", threads}};
}

MachineInfo machine_info() {
  MachineInfo m;
  const CpuInfo& c = cpu_info();
  m.cpu = c.model_name;
  m.isa = c.isa;
  m.vnni = c.vnni;
  m.amx = c.amx;
  m.threads = thread_count();
  return m;
}

}  // namespace kiln::eval
