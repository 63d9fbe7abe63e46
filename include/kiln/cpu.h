// kiln/cpu.h: the CPU as kiln's kernels see it — the instruction-set variant they run and whether
// integer products have VNNI (and run on AMX tiles). The one front door to the runtime's CPU feature detection (the
// quantizer's advice and `kiln report`'s machine line read it here).
//
//   kiln::CpuInfo c = kiln::cpu_info();
//   std::cout << c.model_name << ": " << c.isa << (c.vnni ? " + VNNI" : "") << "\n";
#pragma once
#include <string>

#include "kiln/api.h"

namespace kiln {

struct CpuInfo {
  std::string model_name;  // /proc/cpuinfo's "model name" ("unknown CPU" when not there)
  std::string isa;         // the variant kiln's hand-written kernels run: "scalar", "avx2" or "avx512"
  bool avx2 = false;       // AVX2 with FMA
  bool avx512 = false;     // AVX-512 F, BW, VL and DQ
  bool vnni = false;       // AVX512-VNNI or AVX-VNNI: u8 x s8 products without saturation
  bool amx = false;        // int8 products on AMX tiles (AMX-INT8, granted by the OS, KILN_AMX not 0)
};

// Detected once; the same answer every call.
KILN_API const CpuInfo& cpu_info();

}  // namespace kiln
