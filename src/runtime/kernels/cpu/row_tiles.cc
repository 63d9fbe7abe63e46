#include "runtime/kernels/cpu/row_tiles.h"

#include <algorithm>
#include <cstring>

#include "core/threads.h"
#include "runtime/kernels/cpu/quant_simd.h"

namespace kiln::cpu {

void to_row_tiles(const uint8_t* a, int64_t R, int64_t K, uint8_t* tiles) {
  for (int64_t m0 = 0; m0 < R; m0 += kTileRows) {
    const int64_t rows = std::min(kTileRows, R - m0);
    uint8_t* t = tiles + m0 * K;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t g = 0; g < K / 4; ++g) std::memcpy(t + (g * rows + i) * 4, a + (m0 + i) * K + 4 * g, 4);
  }
}

void from_row_tiles(const uint8_t* tiles, int64_t R, int64_t K, uint8_t* a) {
  for (int64_t m0 = 0; m0 < R; m0 += kTileRows) {
    const int64_t rows = std::min(kTileRows, R - m0);
    const uint8_t* t = tiles + m0 * K;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t g = 0; g < K / 4; ++g) std::memcpy(a + (m0 + i) * K + 4 * g, t + (g * rows + i) * 4, 4);
  }
}

void quantize_u8_row_tiles(const float* x, int64_t R, int64_t K, float scale, int32_t zero_point, uint8_t* tiles) {
  const QuantKernels& qk = quant_kernels();
  const int64_t count = (R + kTileRows - 1) / kTileRows;
  parallel_for(count, kTileRows * K * 4, [&](long t0, long t1) {
    for (long t = t0; t < t1; ++t) {
      const int64_t m0 = t * kTileRows, rows = std::min(kTileRows, R - m0);
      qk.quantize_u8_tile(x + m0 * K, rows, K, scale, zero_point, tiles + m0 * K);
    }
  });
}

}  // namespace kiln::cpu
