// Writers of the files kiln's checkpoint readers take, for tests and benchmarks: zip archives laid
// out like torch.save's (stored entries, data aligned to 64 bytes, optionally ZIP64 records),
// pickles written opcode by opcode, state-dict pickles, and safetensors files. Header-only; written
// from the formats' specifications (APPNOTE.TXT, pickletools), independent of the readers.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace kiln::test {

inline uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

inline void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += (char)((v >> (8 * i)) & 0xff);
}

struct ZipOptions {
  bool zip64 = false;          // ZIP64 end records and extra fields, as for archives over 4 GiB
  uint16_t method = 0;         // what the headers claim (the bytes are always stored as given)
  size_t align = 64;           // torch.save pads each entry's data to 64 bytes
};

// A zip archive of the entries, in order.
inline std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& entries,
                               const ZipOptions& o = {}) {
  std::string out, central;
  for (const auto& [name, data] : entries) {
    const uint64_t header_at = out.size();
    const uint32_t crc = crc32(data);
    // Local header, padded with an extra field so the data lands on an `align` boundary.
    size_t extra = 0;
    if (o.align > 1) {
      size_t data_at = header_at + 30 + name.size();
      extra = (o.align - data_at % o.align) % o.align;
      if (extra != 0 && extra < 4) extra += o.align;  // an extra field needs at least its 4-byte header
    }
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, 0, 2);
    put_le(out, o.method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, data.size(), 4);
    put_le(out, data.size(), 4);
    put_le(out, name.size(), 2);
    put_le(out, extra, 2);
    out += name;
    if (extra) {
      put_le(out, 0x4b46, 2);  // a private padding id, as PyTorch's writer uses
      put_le(out, extra - 4, 2);
      out += std::string(extra - 4, 'Z');
    }
    out += data;
    // Central directory entry.
    put_le(central, 0x02014b50, 4);
    put_le(central, 45, 2);
    put_le(central, 45, 2);
    put_le(central, 0, 2);
    put_le(central, o.method, 2);
    put_le(central, 0, 4);
    put_le(central, crc, 4);
    put_le(central, o.zip64 ? 0xffffffffu : data.size(), 4);
    put_le(central, o.zip64 ? 0xffffffffu : data.size(), 4);
    put_le(central, name.size(), 2);
    put_le(central, o.zip64 ? 28 : 0, 2);
    put_le(central, 0, 2);  // comment
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);
    put_le(central, 0, 4);
    put_le(central, o.zip64 ? 0xffffffffu : header_at, 4);
    central += name;
    if (o.zip64) {
      put_le(central, 1, 2);
      put_le(central, 24, 2);
      put_le(central, data.size(), 8);
      put_le(central, data.size(), 8);
      put_le(central, header_at, 8);
    }
  }
  const uint64_t cd_at = out.size();
  out += central;
  if (o.zip64) {
    const uint64_t end64_at = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, central.size(), 8);
    put_le(out, cd_at, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, end64_at, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);
  put_le(out, o.zip64 ? 0xffff : entries.size(), 2);
  put_le(out, o.zip64 ? 0xffff : entries.size(), 2);
  put_le(out, o.zip64 ? 0xffffffffu : central.size(), 4);
  put_le(out, o.zip64 ? 0xffffffffu : cd_at, 4);
  put_le(out, 0, 2);
  return out;
}

// A pickle written opcode by opcode (pickletools' names).
class Pickle {
 public:
  Pickle& proto(int v = 2) { return op(0x80).byte(v); }
  Pickle& stop() { return op('.'); }
  Pickle& mark() { return op('('); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& inst(const std::string& module, const std::string& name) { return op('i').raw(module + "\n" + name + "\n"); }
  Pickle& stack_global() { return op(0x93); }
  Pickle& str(const std::string& s) {  // BINUNICODE
    op('X');
    put_le(b_, s.size(), 4);
    return raw(s);
  }
  Pickle& short_str(const std::string& s) {  // SHORT_BINUNICODE (protocol 4)
    return op(0x8c).byte((int)s.size()).raw(s);
  }
  Pickle& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').byte((int)v);
    if (v >= 0 && v < 65536) {
      op('M');
      put_le(b_, (uint64_t)v, 2);
      return *this;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      put_le(b_, (uint64_t)(uint32_t)(int32_t)v, 4);
      return *this;
    }
    op(0x8a).byte(8);  // LONG1 of 8 bytes
    put_le(b_, (uint64_t)v, 8);
    return *this;
  }
  Pickle& none() { return op('N'); }
  Pickle& boolean(bool v) { return op(v ? 0x88 : 0x89); }
  Pickle& empty_tuple() { return op(')'); }
  Pickle& tuple() { return op('t'); }  // from the mark
  Pickle& tuple_n(int n) { return op(0x84 + n); }  // TUPLE1..3
  Pickle& empty_dict() { return op('}'); }
  Pickle& empty_list() { return op(']'); }
  Pickle& setitem() { return op('s'); }
  Pickle& setitems() { return op('u'); }
  Pickle& appends() { return op('e'); }
  Pickle& reduce() { return op('R'); }
  Pickle& build() { return op('b'); }
  Pickle& binpersid() { return op('Q'); }
  Pickle& binput(int i) { return op('q').byte(i); }
  Pickle& binget(int i) { return op('h').byte(i); }
  Pickle& memoize() { return op(0x94); }
  Pickle& frame(uint64_t n) {
    op(0x95);
    put_le(b_, n, 8);
    return *this;
  }
  Pickle& op(int code) { return byte(code); }
  Pickle& byte(int v) {
    b_ += (char)(uint8_t)v;
    return *this;
  }
  Pickle& raw(const std::string& s) {
    b_ += s;
    return *this;
  }
  const std::string& bytes() const { return b_; }

  // ('storage', torch.<type>, key, 'cpu', numel) as a persistent id, then
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
  // legacy: the pre-1.6 format's persistent id, with a sixth field (None: not a storage view).
  Pickle& tensor(const std::string& storage_type, const std::string& key, int64_t storage_numel, int64_t offset,
                 const Shape& size, const std::vector<int64_t>& stride, bool legacy = false) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(storage_numel);
    if (legacy) none();
    tuple().binpersid();
    integer(offset);
    mark();
    for (int64_t d : size) integer(d);
    tuple().mark();
    for (int64_t s : stride) integer(s);
    tuple().boolean(false).global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }

 private:
  std::string b_;
};

struct TensorSpec {
  std::string name;
  std::string storage_type = "FloatStorage";
  std::string key;
  int64_t storage_numel = 0;
  int64_t offset = 0;
  Shape size;
  std::vector<int64_t> stride;  // empty: contiguous
};

inline std::vector<int64_t> contiguous_strides(const Shape& size) {
  std::vector<int64_t> s(size.size());
  int64_t e = 1;
  for (size_t d = size.size(); d-- > 0;) {
    s[d] = e;
    e *= size[d];
  }
  return s;
}

// {name: tensor, ...} as torch.save pickles a state dict (protocol 2, a plain dict).
inline std::string state_dict_pickle(const std::vector<TensorSpec>& specs, bool legacy = false) {
  Pickle p;
  p.proto(2).empty_dict().mark();
  for (const TensorSpec& t : specs)
    p.str(t.name).tensor(t.storage_type, t.key, t.storage_numel, t.offset, t.size,
                         t.stride.empty() ? contiguous_strides(t.size) : t.stride, legacy);
  return p.setitems().stop().bytes();
}

// A torch.save archive: <prefix>/data.pkl, <prefix>/data/<key> per storage, <prefix>/version.
inline std::string torch_archive(const std::string& pickle, const std::map<std::string, std::string>& storages,
                                 const ZipOptions& o = {}, const std::string& prefix = "archive") {
  std::vector<std::pair<std::string, std::string>> entries = {{prefix + "/data.pkl", pickle}};
  for (const auto& [key, bytes] : storages) entries.emplace_back(prefix + "/data/" + key, bytes);
  entries.emplace_back(prefix + "/version", "3\n");
  return zip_archive(entries, o);
}

inline const char* storage_type_of(DType t) {
  switch (t) {
    case DType::F32: return "FloatStorage";
    case DType::F64: return "DoubleStorage";
    case DType::F16: return "HalfStorage";
    case DType::BF16: return "BFloat16Storage";
    case DType::I64: return "LongStorage";
    case DType::I32: return "IntStorage";
    case DType::I16: return "ShortStorage";
    case DType::I8: return "CharStorage";
    case DType::U8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
    default: return "UnknownStorage";
  }
}

inline std::string tensor_bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw()), t.nbytes());
}

// pytorch_model.bin of contiguous tensors, each in its own storage.
inline std::string torch_bin(const std::map<std::string, Tensor>& tensors, const ZipOptions& o = {}) {
  std::vector<TensorSpec> specs;
  std::map<std::string, std::string> storages;
  for (const auto& [name, t] : tensors) {
    std::string key = std::to_string(specs.size());
    specs.push_back({name, storage_type_of(t.dtype()), key, t.numel(), 0, t.shape(), {}});
    storages[key] = tensor_bytes(t);
  }
  return torch_archive(state_dict_pickle(specs), storages, o);
}

// The legacy (pre-1.6) torch.save stream of contiguous tensors, each in its own storage: pickles of
// the magic number, protocol version 1001, sys_info, the state dict and the sorted storage keys,
// then each storage as an int64 element count and its bytes (torch/serialization.py _legacy_save).
inline std::string torch_legacy(const std::map<std::string, Tensor>& tensors) {
  std::string out("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  out += std::string("\x80\x02M\xe9\x03.", 6);
  out += Pickle().proto(2).empty_dict().mark().str("protocol_version").integer(1001).str("little_endian")
             .boolean(true).str("type_sizes").empty_dict().mark().str("short").integer(2).str("int").integer(4)
             .str("long").integer(4).setitems().setitems().stop().bytes();
  std::vector<TensorSpec> specs;
  std::map<std::string, std::string> storages;  // sorted by key, as torch.save writes them
  for (const auto& [name, t] : tensors) {
    std::string key = std::to_string(specs.size());
    specs.push_back({name, storage_type_of(t.dtype()), key, t.numel(), 0, t.shape(), {}});
    std::string numel;
    put_le(numel, (uint64_t)t.numel(), 8);
    storages[key] = numel + tensor_bytes(t);
  }
  out += state_dict_pickle(specs, true);
  Pickle keys;
  keys.proto(2).empty_list().mark();
  for (const auto& [key, _] : storages) keys.str(key);
  out += keys.appends().stop().bytes();
  for (const auto& [key, bytes] : storages) out += bytes;
  return out;
}

inline const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
    default: return "?";
  }
}

// A safetensors file of the tensors (header padded to 8 bytes, as the reference writer does).
inline std::string safetensors_file(const std::map<std::string, Tensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {data.size(), data.size() + t.nbytes()}}};
    data += tensor_bytes(t);
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  h += std::string((8 - h.size() % 8) % 8, ' ');
  std::string out;
  put_le(out, h.size(), 8);
  return out + h + data;
}

}  // namespace kiln::test
