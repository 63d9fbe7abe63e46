// Devices in core: names, the CPU's allocator as the registry serves it, copies, and what a build
// without a backend says. (A second device in action: tests/runtime/device_seam_test.cc.)
#include <cstring>

#include <gtest/gtest.h>

#include "core/buffer.h"
#include "core/cpu_allocator.h"
#include "core/device_registry.h"

using namespace kiln;

TEST(Device, NamesRoundTrip) {
  EXPECT_EQ(parse_device("cpu"), Device{});
  EXPECT_EQ(parse_device("cuda"), (Device{DeviceType::Cuda, 0}));
  EXPECT_EQ(parse_device("cuda:3"), (Device{DeviceType::Cuda, 3}));
  EXPECT_EQ(device_name(Device{}), "cpu");
  EXPECT_EQ(device_name(Device{DeviceType::Cuda, 3}), "cuda:3");
  EXPECT_EQ(device_name(Device{DeviceType::Test, 0}), "test:0");
  for (const char* bad : {"", "gpu", "CPU", "cpu:1", "cuda:", "cuda:-1", "cuda:1x", "cuda1"})
    EXPECT_THROW(parse_device(bad), BadInput) << bad;
}

TEST(Device, TheCpuAllocatorIsTheBufferCache) {
  Allocator* cpu = find_allocator(Device{});
  ASSERT_EQ(cpu, &CpuAllocator::instance());
  EXPECT_EQ(&require_allocator(Device{}), cpu);
  {
    Tensor warm(DType::F32, {1000}, *cpu);  // a block of this size in the cache afterwards
  }
  const size_t fresh = Buffer::fresh_blocks();
  Tensor t(DType::F32, {1000}, *cpu);
  EXPECT_EQ(Buffer::fresh_blocks(), fresh) << "the block came from the cache";
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_THROW(register_allocator(CpuAllocator::instance()), InternalError);
}

TEST(Device, LargeCpuBlocksStartOnA2MiBBoundary) {
  // Blocks of 2 MiB and more are aligned for transparent huge pages (core/cpu_allocator.cc); a size
  // no other test allocates, so the block is fresh, not one a smaller alignment left in the cache.
  Tensor t(DType::U8, {(int64_t(5) << 20) + 4096 * 3}, *find_allocator(Device{}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % (uintptr_t(2) << 20), 0u);
  std::memset(t.raw(), 1, (size_t)t.numel());  // every byte is writable
  EXPECT_EQ(t.data<uint8_t>()[t.numel() - 1], 1);
  Tensor small(DType::F32, {1000}, *find_allocator(Device{}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.raw()) % 64, 0u);
}

TEST(Device, CopiesOnTheCpuAreExact) {
  Tensor a = Tensor::from_vector<int64_t>({3}, {1, -2, 3});
  Tensor b = copy_to(a, *find_allocator(Device{}));
  EXPECT_NE(b.raw(), a.raw());
  EXPECT_EQ(b.to_vector<int64_t>(), a.to_vector<int64_t>());
  Tensor s = copy_to(Tensor::from_vector<std::string>({2}, {"x", "y"}), *find_allocator(Device{}));
  EXPECT_EQ(s.to_vector<std::string>(), (std::vector<std::string>{"x", "y"}));
}

TEST(Device, ABuildWithoutCudaSaysSo) {
  EXPECT_EQ(find_allocator(Device{DeviceType::Cuda, 0}), nullptr);
  try {
    require_allocator(Device{DeviceType::Cuda, 0});
    ADD_FAILURE() << "cuda:0 served";
  } catch (const Unsupported& e) {
    EXPECT_EQ(std::string(e.what()).rfind("kiln was built without CUDA: cannot run on cuda:0; ", 0), 0u) << e.what();
  }
}
