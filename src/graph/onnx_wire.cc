// Protobuf wire format, just enough to copy a ModelProto with its initializers' raw_data left out.
#include "graph/onnx_wire.h"

namespace kiln {

namespace {

// Field numbers in onnx.proto.
constexpr uint32_t kModelGraph = 7;         // ModelProto.graph
constexpr uint32_t kGraphInitializer = 5;   // GraphProto.initializer
constexpr uint32_t kTensorRawData = 9;      // TensorProto.raw_data

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

struct Reader {
  const char* base;  // start of the file (offsets are reported from here)
  size_t pos, end;

  bool varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) return false;
      uint8_t b = (uint8_t)base[pos++];
      r |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
};

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back((char)(v | 0x80));
    v >>= 7;
  }
  out->push_back((char)v);
}

// One field at r.pos: its number, wire type, and for length-delimited fields the payload's range.
struct Field {
  uint32_t number = 0, type = 0;
  size_t start = 0;               // first byte of the tag
  size_t payload = 0, size = 0;   // kLength only
};

bool next_field(Reader& r, Field* f) {
  f->start = r.pos;
  uint64_t tag;
  if (!r.varint(&tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return false;
  f->number = (uint32_t)(tag >> 3);
  f->type = (uint32_t)(tag & 7);
  uint64_t v;
  switch (f->type) {
    case kVarint: return r.varint(&v);
    case kFixed64:
      if (r.end - r.pos < 8) return false;
      r.pos += 8;
      return true;
    case kFixed32:
      if (r.end - r.pos < 4) return false;
      r.pos += 4;
      return true;
    case kLength:
      if (!r.varint(&v) || v > r.end - r.pos) return false;
      f->payload = r.pos;
      f->size = (size_t)v;
      r.pos += (size_t)v;
      return true;
    default: return false;  // groups (3, 4) and invalid types: not in ONNX files
  }
}

void copy_field(const Reader& r, const Field& f, std::string* out) { out->append(r.base + f.start, r.pos - f.start); }

void put_length_field(std::string* out, uint32_t number, const std::string& payload) {
  put_varint(out, (uint64_t)number << 3 | kLength);
  put_varint(out, payload.size());
  out->append(payload);
}

bool slim_tensor(const char* base, size_t begin, size_t end, std::string* out, RawDataSpan* span) {
  Reader r{base, begin, end};
  Field f;
  while (r.pos < r.end) {
    if (!next_field(r, &f)) return false;
    if (f.number == kTensorRawData && f.type == kLength) {
      *span = {true, f.payload, f.size};
      put_varint(out, (uint64_t)kTensorRawData << 3 | kLength);
      put_varint(out, 0);
    } else {
      copy_field(r, f, out);
    }
  }
  return true;
}

bool slim_graph(const char* base, size_t begin, size_t end, std::string* out, std::vector<RawDataSpan>* spans) {
  Reader r{base, begin, end};
  Field f;
  std::string tensor;
  while (r.pos < r.end) {
    if (!next_field(r, &f)) return false;
    if (f.number == kGraphInitializer && f.type == kLength) {
      tensor.clear();
      RawDataSpan span;
      if (!slim_tensor(base, f.payload, f.payload + f.size, &tensor, &span)) return false;
      spans->push_back(span);
      put_length_field(out, kGraphInitializer, tensor);
    } else {
      copy_field(r, f, out);
    }
  }
  return true;
}

}  // namespace

bool slim_model_bytes(const char* data, size_t size, std::string* slim, std::vector<RawDataSpan>* spans) {
  slim->clear();
  spans->clear();
  Reader r{data, 0, size};
  Field f;
  bool seen_graph = false;
  std::string graph;
  while (r.pos < r.end) {
    if (!next_field(r, &f)) return false;
    if (f.number == kModelGraph && f.type == kLength) {
      // Protobuf merges repeated occurrences of a message field; not worth following here.
      if (seen_graph) return false;
      seen_graph = true;
      graph.reserve(f.size < (1u << 20) ? f.size : (1u << 20));
      if (!slim_graph(data, f.payload, f.payload + f.size, &graph, spans)) return false;
      put_length_field(slim, kModelGraph, graph);
    } else {
      copy_field(r, f, slim);
    }
  }
  return true;
}

}  // namespace kiln
