#include "runtime/kernels/cpu/isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace kiln::cpu {
namespace {

uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & (1u << 27);
  bool avx = c & (1u << 28);
  bool fma = c & (1u << 12);
  bool f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  uint64_t xcr0 = read_xcr0();
  bool ymm_saved = (xcr0 & 0x6) == 0x6;                 // SSE and AVX state
  bool zmm_saved = ymm_saved && (xcr0 & 0xe0) == 0xe0;  // opmask, upper ZMM, ZMM16-31
  if (!ymm_saved) return f;
  f.fma = fma;
  f.f16c = f16c;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  if (zmm_saved) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = f.avx512f && (c & (1u << 11));
  }
  // XCR0 bits 17 and 18: the OS saves the tile configuration and the tile data.
  const bool tiles_saved = (xcr0 & (3u << 17)) == (3u << 17);
  f.amx_tile = tiles_saved && (d & (1u << 24));
  f.amx_int8 = f.amx_tile && (d & (1u << 25));
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = f.avx2 && (a & (1u << 4));
  return f;
}

Isa best_supported() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.avx2 && f.fma;
    case Isa::Avx512: return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma;
  }
  return false;
}

Isa active_isa() {
  static const Isa isa = [] {
    Isa best = best_supported();
    if (const char* env = std::getenv("KILN_ISA")) {
      std::string s(env);
      Isa cap = s == "scalar" ? Isa::Scalar : s == "avx2" ? Isa::Avx2 : Isa::Avx512;
      if ((int)cap < (int)best) best = cap;
    }
    return best;
  }();
  return isa;
}

bool cpu_has_vnni() { return cpu_features().avx512vnni || cpu_features().avxvnni; }

bool avx512_vnni_active() {
  static const bool ok = active_isa() == Isa::Avx512 && cpu_features().avx512vnni;
  return ok;
}

bool amx_int8_active() {
  static const bool ok = [] {
    if (!avx512_vnni_active() || !cpu_features().amx_int8) return false;
    if (const char* env = std::getenv("KILN_AMX"); env && std::string(env) == "0") return false;
#if defined(__linux__)
    // Linux 5.16+ gives the tile data state (8 KiB of registers) only to a process that asks; the
    // permission then holds for every thread of the process.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

}  // namespace kiln::cpu
