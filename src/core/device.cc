// Device names: what --device and PipelineOptions::device take, and what messages and plans print.
#include <charconv>

#include "core/error.h"
#include "core/tensor.h"

namespace kiln {

std::string_view device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::Cpu: return "cpu";
    case DeviceType::Cuda: return "cuda";
    case DeviceType::Test: return "test";
  }
  return "unknown";
}

std::string device_name(Device d) {
  if (d.is_cpu()) return "cpu";
  return fmt::format("{}:{}", device_type_name(d.type), d.index);
}

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device{};
  const std::string_view cuda = "cuda";
  if (name.substr(0, cuda.size()) == cuda) {
    std::string_view rest = name.substr(cuda.size());
    if (rest.empty()) return Device{DeviceType::Cuda, 0};
    int index = -1;
    if (rest.size() > 1 && rest[0] == ':') {
      auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), index);
      if (ec != std::errc() || end != rest.data() + rest.size()) index = -1;
    }
    if (index >= 0) return Device{DeviceType::Cuda, index};
  }
  throw BadInput(fmt::format("unknown device '{}'; kiln takes cpu, cuda or cuda:N (N = 0, 1, ...)", name));
}

}  // namespace kiln
