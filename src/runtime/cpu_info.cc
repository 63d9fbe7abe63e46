// kiln/cpu.h over the runtime's CPU feature detection (kernels/cpu/isa.h decides the kernels'
// variant; this only reports it).
#include "kiln/cpu.h"

#include <fstream>

#include "runtime/kernels/cpu/isa.h"

namespace kiln {

namespace {

std::string model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      std::string name = line.substr(line.find(':') + 1);
      name.erase(0, name.find_first_not_of(" \t"));
      return name;
    }
  return "unknown CPU";
}

CpuInfo detect() {
  CpuInfo c;
  c.model_name = model_name();
  c.isa = std::string(cpu::isa_name(cpu::active_isa()));
  c.avx2 = cpu::isa_supported(cpu::Isa::Avx2);
  c.avx512 = cpu::isa_supported(cpu::Isa::Avx512);
  c.vnni = cpu::cpu_has_vnni();
  c.amx = cpu::amx_int8_active();
  return c;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

}  // namespace kiln
