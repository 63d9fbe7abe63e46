// quant_kernels(): the table of quant_simd.h's variants for a level, chosen by the one ISA dispatch.
#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {
namespace {

template <Isa>
const QuantKernels& table() {
  return kQuantScalar;  // levels without variants of their own
}
template <>
const QuantKernels& table<Isa::Avx2>() {
  return kQuantAvx2;
}
template <>
const QuantKernels& table<Isa::Avx512>() {
  return kQuantAvx512;
}

}  // namespace

const QuantKernels& quant_kernels(Isa isa) { KILN_ISA_DISPATCH(isa, return table<ISA>()); }

}  // namespace kiln::cpu
