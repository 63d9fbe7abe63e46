#include "graph/external_data.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace kiln {

namespace {
uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
}  // namespace

SharedExternalData::SharedExternalData(const std::string& path)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())),
      location_(std::filesystem::path(path).filename().string()) {
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  KILN_CHECK(out_.good(), IoError, "cannot write {}: check the folder exists and is writable", path_);
}

SharedExternalData::~SharedExternalData() {
  if (!committed_) {
    out_.close();
    std::remove(tmp_.c_str());
  }
}

int64_t SharedExternalData::append(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw());
  size_t n = t.nbytes();
  auto key = std::make_pair(fnv1a(p, n), n);
  auto& bucket = index_[key];
  for (const auto& s : bucket)
    if (std::memcmp(s.t.raw(), p, n) == 0) {
      saved_ += (int64_t)n;
      return s.offset;
    }
  static const char zeros[4096] = {};
  int64_t pad = (4096 - offset_ % 4096) % 4096;
  out_.write(zeros, pad);
  offset_ += pad;
  int64_t at = offset_;
  out_.write(reinterpret_cast<const char*>(p), (std::streamsize)n);
  offset_ += (int64_t)n;
  KILN_CHECK(out_.good(), IoError, "cannot write {} (disk full?)", path_);
  bucket.push_back({t, at});
  return at;
}

void SharedExternalData::commit() {
  out_.close();
  KILN_CHECK(!out_.fail(), IoError, "cannot write {} (disk full?)", path_);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    throw IoError(fmt::format("cannot rename into {}", path_));
  }
  committed_ = true;
}

}  // namespace kiln
