// Quantized activations in "row tiles", the order kiln's VNNI product reads them (qgemm_vnni.h).
//
// A u8 matrix A of R rows and K columns (K a multiple of 4) is cut into tiles of 12 rows from row 0
// (the last has R mod 12 rows when that is not 0). A tile of r rows is stored as its K / 4 groups of
// columns one after the other, each group r rows x 4 bytes:
//   a[12 t + i][4 g + j]  is at byte  12 t K + (g r + i) 4 + j.
// The whole takes R x K bytes, as the row-major matrix does. The product's 12-row tile then reads
// the 48 bytes of one step over K from one place instead of 4 bytes from each of 12 rows.
//
// kiln:DynamicQuantizeLinear writes its output this way when the session's pass
// (passes/quant_row_tiles.cc) has marked it and the MatMulIntegerToFloat nodes that read it
// (attribute row_tiles = 1 on both).
#pragma once
#include <cstdint>

namespace kiln::cpu {

constexpr int64_t kTileRows = 12;

// Whether a matrix with rows of K values can be held in row tiles.
inline bool row_tiles_fit(int64_t K) { return K > 0 && K % 4 == 0; }

// Row-major (R x K) to row tiles and back.
void to_row_tiles(const uint8_t* a, int64_t R, int64_t K, uint8_t* tiles);
void from_row_tiles(const uint8_t* tiles, int64_t R, int64_t K, uint8_t* a);

// DynamicQuantizeLinear's values of x (R x K floats, row-major), written in row tiles; tiles in
// parallel. The bytes are those quantize_u8 (quant_simd.h) gives, moved.
void quantize_u8_row_tiles(const float* x, int64_t R, int64_t K, float scale, int32_t zero_point, uint8_t* tiles);

}  // namespace kiln::cpu
