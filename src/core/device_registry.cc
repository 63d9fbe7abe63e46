#include "core/device_registry.h"

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "core/cpu_allocator.h"

namespace kiln {

namespace {

// Filled at start-up and read when sessions are planned and copies run; guarded for the rare
// registration that comes later (a test binary's own device).
struct Devices {
  std::mutex mu;
  std::vector<Allocator*> allocators;
  std::map<std::pair<DeviceType, DeviceType>, DeviceCopy> copies;
};

Devices& devices() {
  static Devices* d = new Devices();  // never destroyed: buffers may be freed at exit
  return *d;
}

}  // namespace

void register_allocator(Allocator& allocator) {
  const Device dev = allocator.device();
  KILN_CHECK(!dev.is_cpu(), InternalError, "the CPU's allocator is built in; a backend cannot replace it");
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mu);
  for (Allocator* a : d.allocators)
    KILN_CHECK(!(a->device() == dev), InternalError, "device {} has an allocator already", device_name(dev));
  d.allocators.push_back(&allocator);
}

void register_copy(DeviceType from, DeviceType to, DeviceCopy copy) {
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mu);
  d.copies[{from, to}] = copy;
}

Allocator* find_allocator(Device device) {
  if (device.is_cpu()) return &CpuAllocator::instance();
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mu);
  for (Allocator* a : d.allocators)
    if (a->device() == device) return a;
  return nullptr;
}

std::vector<Device> available_devices() {
  std::vector<Device> out{Device{}};
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mu);
  for (Allocator* a : d.allocators) out.push_back(a->device());
  return out;
}

Allocator& require_allocator(Device device) {
  if (Allocator* a = find_allocator(device)) return *a;
  std::string have;
  bool same_type = false;
  for (Device d : available_devices()) {
    have += (have.empty() ? "" : ", ") + device_name(d);
    same_type = same_type || d.type == device.type;
  }
  if (device.type == DeviceType::Cuda && !same_type)
    throw Unsupported(
        fmt::format("kiln was built without CUDA: cannot run on {}; run on the CPU (--device cpu, "
                    "SessionOptions::device left at its default)",
                    device_name(device)));
  throw Unsupported(
      fmt::format("device {} is not available in this build or on this machine (there are: {}); "
                  "choose one of those",
                  device_name(device), have));
}

DeviceCopy find_copy(DeviceType from, DeviceType to) {
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.copies.find({from, to});
  return it == d.copies.end() ? nullptr : it->second;
}

Tensor copy_to(const Tensor& t, Allocator& to) {
  const Device src = t.device(), dst = to.device();
  if (t.dtype() == DType::String) {
    KILN_CHECK(src.is_cpu() && dst.is_cpu(), Unsupported,
               "a string tensor cannot be copied to {}: strings live on the CPU only", device_name(dst));
    return t.clone();
  }
  Tensor out(t.dtype(), t.shape(), to);
  if (t.nbytes() == 0) return out;
  if (src.is_cpu() && dst.is_cpu()) {
    std::memcpy(out.raw(), t.raw(), t.nbytes());
    return out;
  }
  DeviceCopy copy = find_copy(src.type, dst.type);
  KILN_CHECK(copy, Unsupported, "kiln cannot copy a tensor from {} to {}: no backend registered that copy",
             device_name(src), device_name(dst));
  copy(out.raw(), dst, t.raw(), src, t.nbytes());
  return out;
}

}  // namespace kiln
