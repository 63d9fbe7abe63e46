// The devices this build can run on: an Allocator per device and a copy function per pair of
// device types. The CPU is always there (core/cpu_allocator.h); a backend for another device
// registers its allocators and its copies to and from the CPU when the program starts (a static
// initialiser in its kernels folder, as kernels register themselves), before any session is made.
#pragma once
#include <vector>

#include "core/allocator.h"
#include "core/tensor.h"

namespace kiln {

// Copies `bytes` bytes from `src` (memory of `src_device`) to `dst` (memory of `dst_device`).
// Returns when the bytes are in place. Throws an Error when the copy fails.
using DeviceCopy = void (*)(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Makes `allocator` serve its device. It must live for the rest of the process; a device is
// served by one allocator (a second one for it is an InternalError).
void register_allocator(Allocator& allocator);
// Makes `copy` move bytes from devices of type `from` to devices of type `to` (replacing one
// registered before). CPU to CPU is memcpy and needs none.
void register_copy(DeviceType from, DeviceType to, DeviceCopy copy);

// The allocator serving `device` (the CPU's for any CPU device), or null when none does.
Allocator* find_allocator(Device device);
// The same, but throws Unsupported saying what this build has ("kiln was built without CUDA: ...").
Allocator& require_allocator(Device device);
// Every device with an allocator, the CPU first.
std::vector<Device> available_devices();
// The copy from `from` to `to`, or null when none is registered.
DeviceCopy find_copy(DeviceType from, DeviceType to);

// A copy of `t` (same type and shape) in a new buffer from `to`. Throws Unsupported when no copy
// between the two devices is registered, or when `t` holds strings (they live on the CPU only).
Tensor copy_to(const Tensor& t, Allocator& to);

}  // namespace kiln
