// What `kiln report` prints about the machine: CPU model, the instruction set kiln's kernels use
// (and whether int8 products have VNNI and run on AMX tiles), threads.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace kiln::eval {

struct MachineInfo {
  std::string cpu;   // /proc/cpuinfo's "model name" ("unknown CPU" when not there)
  std::string isa;   // scalar, avx2, avx512 (the kernels' active variant)
  bool vnni = false; // AVX512-VNNI or AVX-VNNI
  bool amx = false;  // int8 products on AMX tiles
  int threads = 0;   // kiln's thread pool
  nlohmann::json to_json() const;
};

MachineInfo machine_info();

}  // namespace kiln::eval
