// Memory for packed weights (runtime/kernels/cpu/weight_pages.h): blocks are 64-byte aligned, zeroed
// (also when cut again from an area whose earlier blocks were all freed), do not overlap, and blocks
// larger than an area work; freeing in any order is safe.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/kernels/cpu/weight_pages.h"

namespace kiln::cpu {
namespace {

bool all_zero(const int8_t* p, size_t n) {
  return std::all_of(p, p + n, [](int8_t v) { return v == 0; });
}

TEST(Int8WeightPages, AlignedZeroedAndDisjoint) {
  const size_t sizes[] = {1, 100, 589824, 2359296, 40u << 20, 4096};
  std::vector<std::shared_ptr<int8_t>> blocks;
  for (size_t n : sizes) {
    auto b = allocate_weight_bytes(n);
    ASSERT_TRUE(b);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u) << n;
    EXPECT_TRUE(all_zero(b.get(), n)) << n;
    std::memset(b.get(), 0x5a, n);
    blocks.push_back(b);
  }
  // Each block still holds its own bytes: none was cut over another.
  for (size_t i = 0; i < blocks.size(); ++i) EXPECT_EQ(blocks[i].get()[sizes[i] - 1], 0x5a) << i;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int8_t* p = blocks[i].get();
    for (size_t j = 0; j < blocks.size(); ++j)
      if (i != j) EXPECT_TRUE(p + sizes[i] <= blocks[j].get() || blocks[j].get() + sizes[j] <= p) << i << " " << j;
  }
  // Freed out of order, then the same sizes again: zeroed again.
  blocks.erase(blocks.begin() + 1);
  blocks.clear();
  for (size_t n : sizes) EXPECT_TRUE(all_zero(allocate_weight_bytes(n).get(), n)) << n;
}

}  // namespace
}  // namespace kiln::cpu
