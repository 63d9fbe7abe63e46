// The integer matrix product behind MatMulInteger, QLinearMatMul, MatMulIntegerToFloat and
// DynamicQuantizeMatMul: (A - a_zero_point) x (B - b_zero_point) in int32, for 8-bit A and B.
//
// oneDNN multiplies raw u8/s8 A by s8 B (VNNI's vpdpbusd); zero points are folded in afterwards from
// row sums of A and column sums of B, so every zero-point form (scalar, per row of A, per column of
// B) and u8 B (shifted to s8 by 128, with its zero point shifted too) take the same fast path.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.h"
#include "runtime/kernels/cpu/dnnl_util.h"
#include "runtime/kernels/cpu/qgemm_vnni.h"

namespace kiln::cpu {

enum class Int8Path {
  Vnni,      // kiln's packed AVX512-VNNI kernel (qgemm_vnni.h) for u8 A x constant B, epilogue fused;
             // other operand kinds take DnnlInt8
  Amx,       // the same on AMX tiles (qgemm_amx.cc), A row-major
  DnnlInt8,  // oneDNN u8/s8 x s8 -> s32; exact where the CPU has VNNI (otherwise pairs may saturate)
  DnnlF32,   // oneDNN float product of the integer values, rounded back (exact while |sums| < 2^24)
  Reference  // plain integer loops
};
// Amx on CPUs with AMX-INT8 (amx_int8_active()), Vnni on CPUs with AVX512-VNNI (and active_isa()
// AVX-512), DnnlF32 elsewhere.
Int8Path default_int8_path();

// The epilogue applied to each int32 result: out = float(acc) * a_scale * b_scale[n] (+ bias[n]).
struct Dequant {
  float a_scale = 1.f;
  const float* b_scale = nullptr;  // 1 or N values
  int64_t b_scale_count = 1;
  const float* bias = nullptr;  // N values or null
  bool gelu = false;            // then GELU (erf form), as com.microsoft BiasGelu computes it
  ValueRange* range = nullptr;  // when set, [min, max] of the float outputs is merged in here
  const float* residual = nullptr;  // M x N values added last (without gelu), as a following Add would
  bool a_row_tiles = false;  // a is in row tiles (row_tiles.h); only where takes_row_tiles() says so
};

class Int8Gemm {
 public:
  explicit Int8Gemm(Int8Path path = default_int8_path());
  ~Int8Gemm();

  // Prepares a constant B (K x N, u8 or s8) once: its s8 form, column sums, packed layout.
  void set_constant_b(const Tensor& b, int64_t K, int64_t N);
  bool has_constant_b() const { return const_k_ > 0; }
  // Whether run_float takes A (u8, M x K) in row tiles (row_tiles.h) for the constant B: the Vnni path.
  bool takes_row_tiles(int64_t K, int64_t N, bool a_signed) const;

  // c (M x N) = (a - za) x (b - zb). a is M x K u8 (a_signed false) or s8; za has 0 (none), 1 or M
  // values; b is K x N (b_signed says s8) or null for the constant B; zb has 0, 1 or N values.
  void run(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
           const void* b, bool b_signed, const std::vector<int32_t>& zb, int32_t* c);
  // The same, then dequantized to float as `dq` says.
  void run_float(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                 const void* b, bool b_signed, const std::vector<int32_t>& zb, const Dequant& dq, float* y);

 private:
  struct BView {
    const int8_t* s8;        // B - shift as int8
    const int32_t* colsum;   // column sums of s8
    const float* f32;        // float copy (DnnlF32 path, constant B only)
    int32_t shift;           // 128 for u8 B, 0 for s8
  };
  // Raw product of a (as given) and the s8 B into acc (M x N).
  void raw_product(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const BView& b, bool constant,
                   int32_t* acc);
  // Raw product into `acc` (scratch when null) with zero points folded in; then finish(m, row) for
  // each finished row of M.
  // The Vnni path when it applies (u8 A, the constant B): the whole product in one fused pass,
  // into y (float, with scale/bias/gelu) or c (int32). False when it does not apply.
  bool run_vnni(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
                const void* b, const std::vector<int32_t>& zb, const float* scale, const float* bias, bool gelu,
                const float* residual, ValueRange* range, float* y, int32_t* c, bool a_row_tiles = false);
  template <typename Finish>
  void product(int64_t M, int64_t K, int64_t N, const void* a, bool a_signed, const std::vector<int32_t>& za,
               const void* b, bool b_signed, const std::vector<int32_t>& zb, int32_t* acc, Finish&& finish);

  Int8Path path_;
  std::mutex lazy_mu_;  // guards making u8_, s8_, f32_ on first use (sessions may run concurrently)
  std::unique_ptr<DnnlMatMul> u8_, s8_, f32_;
  // Constant B, prepared.
  int64_t const_k_ = 0, const_n_ = 0;
  bool const_signed_ = false;
  Tensor const_s8_;
  std::vector<int32_t> const_colsum_;
  std::vector<int32_t> const_colterm0_;  // -colsum: colterm where B's zero points equal the shift (the usual case)
  Tensor const_f32_;
  VnniPackedB const_vnni_;
};

}  // namespace kiln::cpu
