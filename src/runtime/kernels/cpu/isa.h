// The one place that decides which instruction-set variant of a hand-written CPU micro-kernel runs.
// Features come from cpuid (and xgetbv, so the OS saves the wide registers); nothing is compiled
// with -march=native. SIMD variants live in their own files with __attribute__((target(...))).
#pragma once
#include <string_view>

namespace kiln::cpu {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false;  // vpdpbusd on 512-bit registers
  bool avxvnni = false;     // vpdpbusd on 256-bit registers (Alder Lake and later)
};

// What this CPU supports (detected once).
const CpuFeatures& cpu_features();

// Variants of the micro-kernels, from the portable reference up.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

std::string_view isa_name(Isa isa);
// Whether this CPU can run a variant.
bool isa_supported(Isa isa);
// The variant kernels use: the best supported one, capped by the environment variable KILN_ISA
// (scalar | avx2 | avx512) when it is set, so a slow path can be forced for debugging.
Isa active_isa();

}  // namespace kiln::cpu
