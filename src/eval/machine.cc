#include "eval/machine.h"

#include <fstream>

#include "core/threads.h"
#include "runtime/kernels/cpu/isa.h"

namespace kiln::eval {

nlohmann::json MachineInfo::to_json() const {
  return {{"cpu", cpu}, {"isa", isa}, {"vnni", vnni}, {"threads", threads}};
}

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      m.cpu = line.substr(line.find(':') + 1);
      m.cpu.erase(0, m.cpu.find_first_not_of(" \t"));
      break;
    }
  m.isa = std::string(cpu::isa_name(cpu::active_isa()));
  const auto& f = cpu::cpu_features();
  m.vnni = f.avx512vnni || f.avxvnni;
  m.threads = thread_count();
  return m;
}

}  // namespace kiln::eval
