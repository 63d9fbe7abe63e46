#include "export/safetensors.h"

#include <cstring>

#include <nlohmann/json.hpp>

namespace kiln::exporting {

static DType safetensors_dtype(const std::string& s, const std::string& what, const std::string& name) {
  static const std::map<std::string, DType> m = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16},   {"I8", DType::I8},
      {"U8", DType::U8},   {"U16", DType::U16}, {"U32", DType::U32},   {"U64", DType::U64},
      {"BOOL", DType::Bool}};
  auto it = m.find(s);
  KILN_CHECK(it != m.end(), Unsupported, "{}: tensor '{}' has dtype {}, which kiln cannot read", what, name, s);
  return it->second;
}

SafetensorsFile parse_safetensors(std::shared_ptr<MappedFile> file, const std::string& what) {
  const size_t size = file->size();
  KILN_CHECK(size >= 8, BadModel, "{} is too short to be a safetensors file ({} bytes)", what, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, file->data(), 8);  // little-endian on every machine kiln runs on
  KILN_CHECK(header_len > 0 && header_len <= size - 8 && header_len < (100u << 20), BadModel,
             "{}: header length {} does not fit a file of {} bytes; not a safetensors file?", what, header_len, size);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file->data() + 8, file->data() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw BadModel(fmt::format("{}: the safetensors header is not valid JSON ({})", what, e.what()));
  }
  KILN_CHECK(header.is_object(), BadModel, "{}: the safetensors header must be a JSON object", what);
  const size_t data_start = 8 + header_len;
  const size_t data_size = size - data_start;
  SafetensorsFile out;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (entry.is_object())
        for (auto& [k, v] : entry.items())
          if (v.is_string()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    KILN_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
               BadModel, "{}: tensor '{}' needs dtype, shape and data_offsets", what, name);
    KILN_CHECK(entry["dtype"].is_string() && entry["shape"].is_array() && entry["data_offsets"].is_array() &&
                   entry["data_offsets"].size() == 2,
               BadModel, "{}: tensor '{}' has malformed fields", what, name);
    DType dt = safetensors_dtype(entry["dtype"].get<std::string>(), what, name);
    Shape shape;
    for (const auto& d : entry["shape"]) {
      KILN_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), BadModel,
                 "{}: tensor '{}' has a bad dimension", what, name);
      shape.push_back(d.get<int64_t>());
    }
    const auto& offs = entry["data_offsets"];
    KILN_CHECK(offs[0].is_number_unsigned() && offs[1].is_number_unsigned(), BadModel,
               "{}: tensor '{}' has bad data_offsets", what, name);
    uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    // Guard the element count before multiplying.
    uint64_t numel = 1;
    for (int64_t d : shape) {
      KILN_CHECK(d == 0 || numel <= ((uint64_t)1 << 48) / (uint64_t)d, BadModel, "{}: tensor '{}' is too large", what, name);
      numel *= (uint64_t)d;
    }
    KILN_CHECK(begin <= end && end <= data_size && end - begin == numel * dtype_size(dt), BadModel,
               "{}: tensor '{}' data_offsets [{}, {}) do not match its shape {} of {} or the file's {} data bytes",
               what, name, begin, end, shape_str(shape), dtype_name(dt), data_size);
    const char* p = file->data() + data_start + begin;
    if (reinterpret_cast<uintptr_t>(p) % dtype_size(dt) == 0) {
      auto buf = Buffer::view(const_cast<char*>(p), end - begin, file);
      out.tensors[name] = Tensor::view(dt, shape, buf);
    } else {  // misaligned (a header not padded to 8 bytes): copy so kernels see aligned data
      Tensor t(dt, shape);
      if (end > begin) std::memcpy(t.raw(), p, end - begin);
      out.tensors[name] = t;
    }
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) { return parse_safetensors(MappedFile::open(path), path); }

}  // namespace kiln::exporting
