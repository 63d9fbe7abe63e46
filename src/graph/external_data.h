// One external-data file that several models write into, with identical tensors stored once:
// the quantizer uses it so decoder_model.onnx and decoder_with_past_model.onnx (and the encoder's
// copy of a tied embedding) point at the same bytes. Bytes go to a temporary file; commit()
// renames it into place (call it before renaming the .onnx files that refer to it).
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln {

class SharedExternalData {
 public:
  // `path`: the data file; models that use it must be saved in the same folder.
  explicit SharedExternalData(const std::string& path);
  ~SharedExternalData();  // removes the temporary file unless committed
  SharedExternalData(const SharedExternalData&) = delete;
  SharedExternalData& operator=(const SharedExternalData&) = delete;

  // The file name models write as `location`.
  const std::string& location() const { return location_; }
  // Appends t's bytes (4 KiB aligned) unless the same bytes are already stored; returns the offset.
  int64_t append(const Tensor& t);
  int64_t bytes_written() const { return offset_; }
  int64_t bytes_deduplicated() const { return saved_; }
  void commit();

 private:
  std::string path_, tmp_, location_;
  std::ofstream out_;
  int64_t offset_ = 0, saved_ = 0;
  bool committed_ = false;
  struct Stored {
    Tensor t;  // kept alive to compare bytes on a hash match
    int64_t offset;
  };
  std::map<std::pair<uint64_t, size_t>, std::vector<Stored>> index_;
};

}  // namespace kiln
