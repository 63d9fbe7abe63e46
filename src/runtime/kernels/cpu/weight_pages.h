// Memory for packed constant weights in 2 MiB pages where the kernel gives them (transparent huge
// pages, madvise mode).
//
// A whole run reads every packed weight once, from L3 or memory (DistilBERT-base int8: 43 MB, about
// 10,000 4 KiB pages, more than the TLB holds): with 4 KiB pages the first row tile of each 32-column
// panel also paid a page walk every 4 KiB. Blocks are cut from 32 MiB areas (2 MiB aligned, advised
// MADV_HUGEPAGE); an area is unmapped when the last block cut from it is freed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kiln::cpu {

// `bytes` zeroed bytes, 64-byte aligned; freed when the last copy of the pointer goes.
std::shared_ptr<int8_t> allocate_weight_bytes(size_t bytes);

}  // namespace kiln::cpu
