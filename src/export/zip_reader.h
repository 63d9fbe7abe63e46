// A reader for the zip archives torch.save writes (pytorch_model.bin): the central directory
// (ZIP64 included) of a memory-mapped file, and the bytes of STORED (uncompressed) entries as
// pointers into the map, so tensors can view them without a copy. Compressed or encrypted entries
// are listed but their bytes are refused: torch.save never compresses.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/buffer.h"

namespace kiln::exporting {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate, ...
  uint16_t flags = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t header_offset = 0;  // of the local file header
};

class ZipArchive {
 public:
  // Reads the central directory; throws BadModel (naming `what`) when it is malformed.
  ZipArchive(std::shared_ptr<MappedFile> file, std::string what);

  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  // The bytes of a stored entry inside the map (checked to lie inside the file); throws BadModel
  // for a compressed or encrypted entry or a broken local header.
  const char* data(const ZipEntry& e) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }
  const std::string& what() const { return what_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string what_;
  std::map<std::string, ZipEntry> entries_;
};

// True when the bytes start like a zip archive (a local file header or an empty archive's end record).
bool looks_like_zip(const char* data, size_t size);

}  // namespace kiln::exporting
