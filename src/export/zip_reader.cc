#include "export/zip_reader.h"

#include <cstring>

#include "core/error.h"

namespace kiln::exporting {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kEnd64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22, kLocatorSize = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;

uint16_t u16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);  // little-endian, as on every machine kiln runs on
  return v;
}
uint32_t u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Fields of the ZIP64 extended-information extra field (id 1) replace those saturated at 0xffffffff,
// in the order uncompressed size, compressed size, local header offset.
void apply_zip64_extra(const char* extra, size_t len, ZipEntry& e, bool usize, bool csize, bool offset,
                       const std::string& what) {
  size_t pos = 0;
  while (pos + 4 <= len) {
    uint16_t id = u16(extra + pos), n = u16(extra + pos + 2);
    pos += 4;
    KILN_CHECK(n <= len - pos, BadModel, "{}: entry '{}' has a truncated extra field; the archive is damaged", what,
               e.name);
    if (id == 1) {
      size_t q = pos;
      auto take = [&](uint64_t& field) {
        KILN_CHECK(q + 8 <= pos + n, BadModel, "{}: entry '{}' has a short ZIP64 extra field; the archive is damaged",
                   what, e.name);
        field = u64(extra + q);
        q += 8;
      };
      if (usize) take(e.size);
      if (csize) take(e.compressed_size);
      if (offset) take(e.header_offset);
      return;
    }
    pos += n;
  }
  KILN_CHECK(!usize && !csize && !offset, BadModel,
             "{}: entry '{}' needs a ZIP64 extra field it does not have; the archive is damaged", what, e.name);
}

}  // namespace

bool looks_like_zip(const char* data, size_t size) {
  return size >= 4 && (u32(data) == kLocalSig || u32(data) == kEndSig);
}

ZipArchive::ZipArchive(std::shared_ptr<MappedFile> file, std::string what) : file_(std::move(file)), what_(std::move(what)) {
  const char* base = file_->data();
  const size_t size = file_->size();
  KILN_CHECK(size >= kEndSize, BadModel, "{} is too short to be a zip archive ({} bytes); the file is truncated", what_,
             size);
  // The end record is the last 22 bytes unless an archive comment (at most 64 KiB) follows it.
  size_t end = size - kEndSize;
  const size_t lowest = size - kEndSize > 0xffff ? size - kEndSize - 0xffff : 0;
  while (true) {
    if (u32(base + end) == kEndSig && end + kEndSize + u16(base + end + 20) == size) break;
    KILN_CHECK(end > lowest, BadModel,
               "{}: no zip end-of-central-directory record; the file is truncated or not a zip archive", what_);
    --end;
  }
  uint64_t count = u16(base + end + 10), cd_size = u32(base + end + 12), cd_offset = u32(base + end + 16);
  size_t cd_limit = end;  // the central directory lies before the end record(s)
  if (end >= kLocatorSize && u32(base + end - kLocatorSize) == kEnd64LocatorSig) {
    uint64_t end64 = u64(base + end - kLocatorSize + 8);
    KILN_CHECK(end64 <= end - kLocatorSize && end - kLocatorSize - end64 >= kEnd64Size && u32(base + end64) == kEnd64Sig,
               BadModel, "{}: the ZIP64 end record is missing or misplaced; the archive is damaged", what_);
    count = u64(base + end64 + 32);
    cd_size = u64(base + end64 + 40);
    cd_offset = u64(base + end64 + 48);
    cd_limit = end64;
  }
  KILN_CHECK(cd_offset <= cd_limit && cd_size <= cd_limit - cd_offset, BadModel,
             "{}: the central directory ({} bytes at {}) lies outside the file; the archive is truncated or damaged",
             what_, cd_size, cd_offset);
  KILN_CHECK(count <= cd_size / kCentralSize, BadModel,
             "{}: {} entries cannot fit a central directory of {} bytes; the archive is damaged", what_, count, cd_size);
  const char* p = base + cd_offset;
  const char* cd_end = p + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    KILN_CHECK(cd_end - p >= (ptrdiff_t)kCentralSize && u32(p) == kCentralSig, BadModel,
               "{}: central directory entry {} is malformed; the archive is damaged", what_, i);
    size_t name_len = u16(p + 28), extra_len = u16(p + 30), comment_len = u16(p + 32);
    KILN_CHECK((size_t)(cd_end - p) - kCentralSize >= name_len + extra_len + comment_len, BadModel,
               "{}: central directory entry {} runs past the directory; the archive is damaged", what_, i);
    ZipEntry e;
    e.flags = u16(p + 8);
    e.method = u16(p + 10);
    e.compressed_size = u32(p + 20);
    e.size = u32(p + 24);
    e.header_offset = u32(p + 42);
    e.name.assign(p + kCentralSize, name_len);
    apply_zip64_extra(p + kCentralSize + name_len, extra_len, e, e.size == 0xffffffffu,
                      e.compressed_size == 0xffffffffu, e.header_offset == 0xffffffffu, what_);
    KILN_CHECK(entries_.count(e.name) == 0, BadModel, "{}: the archive holds '{}' twice; it is damaged", what_,
               e.name);
    std::string key = e.name;
    entries_.emplace(std::move(key), std::move(e));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

const char* ZipArchive::data(const ZipEntry& e) const {
  KILN_CHECK(!(e.flags & 1), Unsupported, "{}: entry '{}' is encrypted; kiln reads only plain archives", what_, e.name);
  KILN_CHECK(e.method == 0, Unsupported,
             "{}: entry '{}' is compressed (zip method {}); torch.save writes uncompressed archives: re-save it with "
             "torch.save, or as safetensors with save_pretrained(..., safe_serialization=True)",
             what_, e.name, e.method);
  const char* base = file_->data();
  const size_t size = file_->size();
  KILN_CHECK(e.header_offset <= size && size - e.header_offset >= kLocalSize && u32(base + e.header_offset) == kLocalSig,
             BadModel, "{}: the local header of '{}' is missing; the archive is truncated or damaged", what_, e.name);
  const char* h = base + e.header_offset;
  uint64_t start = e.header_offset + kLocalSize + (uint64_t)u16(h + 26) + u16(h + 28);
  KILN_CHECK(e.compressed_size == e.size && start <= size && e.size <= size - start, BadModel,
             "{}: entry '{}' ({} bytes at {}) runs past the end of the file ({} bytes); the archive is truncated",
             what_, e.name, e.size, start, size);
  return base + start;
}

}  // namespace kiln::exporting
