// The one place that decides which instruction-set variant of a hand-written CPU micro-kernel runs.
// Nothing is compiled with -march=native: one binary runs on any x86-64.
//
// - Levels: Isa (Scalar < Avx2 < Avx512). Features come from cpuid (and xgetbv, so the OS saves the
//   wide registers), read once; active_isa() is the best level this CPU supports, capped by the
//   environment variable KILN_ISA (scalar | avx2 | avx512) when it is set.
// - Variants: a kernel with variants is a function template over Isa. The primary template is the
//   portable code (levels without a variant of their own run it); each variant is an explicit
//   specialisation compiled for its level with KILN_TARGET(Level), the feature set isa_supported()
//   checks for that level:
//     template <Isa> void scale(float* x, int64_t n);                 // portable: the primary
//     template <> KILN_TARGET(Avx512) void scale<Isa::Avx512>(...);   // AVX-512 variant
// - Choice: the entry point picks the variant with KILN_ISA_DISPATCH(isa, statements), which runs
//   the statements with a compile-time constant ISA equal to `isa`:
//     void scale(float* x, int64_t n, Isa isa) { KILN_ISA_DISPATCH(isa, scale<ISA>(x, n)); }
//   Hot loops that call several variants per row take a table of them once instead (quant_simd.h's
//   QuantKernels), made by the same dispatch.
// docs/architecture.md ("ISA dispatch") says how to add a variant.
#pragma once
#include <string_view>

namespace kiln::cpu {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false;  // vpdpbusd on 512-bit registers
  bool avxvnni = false;     // vpdpbusd on 256-bit registers (Alder Lake and later)
  // AMX's tile registers and their u8/s8 dot products (Sapphire Rapids and later), with the OS saving
  // the tile state (XCR0). Linux also wants each process to ask for the tile data state once:
  // amx_int8_active() does.
  bool amx_tile = false, amx_int8 = false;
};

// What this CPU supports (detected once).
const CpuFeatures& cpu_features();

// Variants of the micro-kernels, from the portable reference up.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

std::string_view isa_name(Isa isa);
// Whether this CPU can run a variant compiled with KILN_TARGET(level).
bool isa_supported(Isa isa);
// The variant kernels use: the best supported one, capped by KILN_ISA when it is set, so a slow
// path can be forced for debugging.
Isa active_isa();

// Whether 8-bit dot products (vpdpbusd) exist on this CPU at all, on 512- or 256-bit registers:
// what reports and quantization advice mean by "VNNI".
bool cpu_has_vnni();
// Whether kernels compiled with KILN_TARGET(Avx512Vnni) may run: the active level is AVX-512 and
// the CPU has AVX512-VNNI. (VNNI kernels are an extra feature within the Avx512 level, not a level.)
bool avx512_vnni_active();
// Whether kernels on AMX tiles may run: avx512_vnni_active(), the CPU has AMX-TILE and AMX-INT8, the
// kernel let this process use the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once here),
// and the environment variable KILN_AMX is not 0 (KILN_AMX=0 keeps the VNNI kernels, to compare).
bool amx_int8_active();

}  // namespace kiln::cpu

// The features each level's variants are compiled for (isa_supported() checks exactly these).
// AVX-512 variants prefer 512-bit vectors where the compiler vectorises plain loops.
#define KILN_TARGET_Scalar
#define KILN_TARGET_Avx2 __attribute__((target("avx2,fma")))
#if defined(__clang__)  // clang has no prefer-vector-width target feature; min_vector_width says the same
#define KILN_TARGET_Avx512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma"), min_vector_width(512)))
#define KILN_TARGET_Avx512Vnni \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx512vnni"), min_vector_width(512)))
#else
#define KILN_TARGET_Avx512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,prefer-vector-width=512")))
#define KILN_TARGET_Avx512Vnni \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx512vnni,prefer-vector-width=512")))
#endif
// AMX kernels: the AVX512-VNNI features (their epilogues are AVX-512) and the tile instructions.
#define KILN_TARGET_Avx512Amx \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx512vnni,amx-tile,amx-int8")))
// KILN_TARGET(Avx2): the attribute for a function compiled for that level (Scalar: none).
#define KILN_TARGET(level) KILN_TARGET_##level

// Runs the statements (which may `return`) with `constexpr Isa ISA` equal to `isa`.
#define KILN_ISA_CASE_(label, level, ...)                                      \
  label : {                                                                    \
    [[maybe_unused]] constexpr ::kiln::cpu::Isa ISA = ::kiln::cpu::Isa::level; \
    __VA_ARGS__;                                                               \
  } break;
#define KILN_ISA_DISPATCH(isa, ...)                                    \
  switch (isa) {                                                       \
    KILN_ISA_CASE_(case ::kiln::cpu::Isa::Avx512, Avx512, __VA_ARGS__) \
    KILN_ISA_CASE_(case ::kiln::cpu::Isa::Avx2, Avx2, __VA_ARGS__)     \
    KILN_ISA_CASE_(default, Scalar, __VA_ARGS__)                       \
  }
