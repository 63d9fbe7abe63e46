// A pre-scan of an ONNX file's protobuf wire format, so that embedded weights need not be copied:
// it writes the ModelProto again without the bytes of the top-level graph's initializers
// (graph.initializer[i].raw_data, left as an empty field) and says where each one lies in the file.
// The loader parses the smaller copy and points those initializers into the mapped file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct RawDataSpan {
  bool present = false;  // the initializer had a raw_data field (its last one, as protobuf keeps)
  size_t offset = 0;     // where its bytes start in the file
  size_t size = 0;
};

// Fills *slim and *spans (one per graph.initializer entry, in order) and returns true; returns
// false for anything it does not follow exactly (bad or truncated wire data, a repeated graph
// field, groups), and the caller then parses the file as it is, which reports the error if any.
bool slim_model_bytes(const char* data, size_t size, std::string* slim, std::vector<RawDataSpan>* spans);

}  // namespace kiln
