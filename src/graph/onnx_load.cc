// ONNX protobuf -> IR.
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/buffer.h"
#include "core/limits.h"
#include "graph/onnx_io.h"
#include "graph/onnx_wire.h"
#include "onnx/onnx_pb.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

struct LoadContext {
  std::string base_dir;  // folder for external data ("" = refuse external data)
  std::map<std::string, std::shared_ptr<MappedFile>> mapped;  // external files, mapped once
  LoadLimits limits;
  // The model file when it is mapped: the top-level graph's initializers' raw_data was left out of
  // the parsed bytes (graph/onnx_wire.h) and lies in this file at raw_spans[i].
  std::shared_ptr<MappedFile> model_file;
  std::vector<RawDataSpan> raw_spans;
};

// depth: 0 for the main graph, 1 for a subgraph of one of its nodes, ...
Graph graph_from_proto(const onnx::GraphProto& gp, LoadContext& ctx, int depth);

std::string tensor_label(const onnx::TensorProto& tp) {
  return tp.name().empty() ? std::string("(unnamed tensor)") : "'" + tp.name() + "'";
}

// Resolves an external-data location; refuses anything outside the model's folder.
std::string resolve_external(const std::string& location, const LoadContext& ctx, const std::string& tensor) {
  KILN_CHECK(!ctx.base_dir.empty(), BadModel,
             "tensor {} keeps its data in external file '{}', but the model was loaded from memory; load it from its file",
             tensor, location);
  KILN_CHECK(location.find('\0') == std::string::npos, BadModel,
             "tensor {}: external data location contains a NUL byte; the model file is corrupt", tensor);
  fs::path loc(location);
  KILN_CHECK(!loc.is_absolute() && !loc.has_root_name(), BadModel,
             "tensor {}: external data location '{}' is absolute; only files inside the model's folder are allowed",
             tensor, location);
  // Symbolic links are followed before the check, so a link that leads out of the folder is
  // refused like a '..' that does.
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(ctx.base_dir), ec);
  fs::path full;
  if (!ec) full = fs::weakly_canonical(base / loc, ec);
  KILN_CHECK(!ec, IoError, "tensor {}: cannot resolve external data location '{}' in {}: {}", tensor, location,
             ctx.base_dir, ec.message());
  auto rel = full.lexically_relative(base);
  KILN_CHECK(!rel.empty() && *rel.begin() != ".." && rel != ".", BadModel,
             "tensor {}: external data location '{}' points outside the model's folder {} (or at the folder "
             "itself); refused: keep the data file in the model's folder, not behind '..' or a symbolic link",
             tensor, location, base.string());
  return full.string();
}

// An external-data offset or length: plain decimal digits (no sign, spaces or suffix) that fit
// int64. std::stoll would read "36x448" as 36 and let a corrupt model load from the wrong bytes.
int64_t parse_external_number(const std::string& text, const char* key, const std::string& tensor) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  bool ok = !text.empty();
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || v > (kMax - (c - '0')) / 10) {
      ok = false;
      break;
    }
    v = v * 10 + (c - '0');
  }
  KILN_CHECK(ok, BadModel,
             "tensor {}: external data {} '{}' is not a byte count (decimal digits only); the model file is corrupt, "
             "re-export or re-save it",
             tensor, key, text);
  return v;
}

// A view of initializer bytes in the mapped model file, or a copy when they are not aligned for
// their element type (protobuf puts them at any offset).
Tensor mapped_tensor(DType dt, const Shape& shape, const char* p, size_t bytes,
                     const std::shared_ptr<MappedFile>& file) {
  size_t align = std::min<size_t>(std::max<size_t>(dtype_size(dt), 1), 8);
  if (bytes == 0 || reinterpret_cast<uintptr_t>(p) % align != 0) {
    Tensor t(dt, shape);
    if (bytes) std::memcpy(t.raw(), p, bytes);
    return t;
  }
  std::shared_ptr<const void> keep = file;
  auto buf = Buffer::view(const_cast<char*>(p), bytes, keep);
  return Tensor::view(dt, shape, buf);
}

Tensor tensor_from_proto(onnx::TensorProto& tp, LoadContext& ctx, const RawDataSpan* span = nullptr) {
  int32_t dt_raw = tp.data_type();
  KILN_CHECK(dtype_is_known(dt_raw), Unsupported, "tensor {} has element type {}, which kiln does not support",
             tensor_label(tp), dt_raw);
  DType dt = (DType)dt_raw;
  Shape shape(tp.dims().begin(), tp.dims().end());
  for (int64_t d : shape)
    KILN_CHECK(d >= 0, BadModel, "tensor {} has a negative dimension in {}", tensor_label(tp), shape_str(shape));
  int64_t n = shape_numel(shape);
  size_t bytes = (size_t)n * dtype_size(dt);

  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : tp.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = parse_external_number(kv.value(), "offset", tensor_label(tp));
      else if (kv.key() == "length") length = parse_external_number(kv.value(), "length", tensor_label(tp));
    }
    KILN_CHECK(!location.empty(), BadModel, "tensor {}: external data without a location", tensor_label(tp));
    KILN_CHECK(dt != DType::String, BadModel, "tensor {}: string tensors cannot be external", tensor_label(tp));
    std::string file = resolve_external(location, ctx, tensor_label(tp));
    auto& m = ctx.mapped[file];
    if (!m) m = MappedFile::open(file);
    if (length < 0) length = (int64_t)bytes;
    // Both are non-negative; compared without forming offset + length, which could overflow.
    const uint64_t size = m->size();
    KILN_CHECK((uint64_t)length == bytes && (uint64_t)offset <= size && (uint64_t)length <= size - (uint64_t)offset,
               BadModel,
               "tensor {}: external data [{}, +{}) does not fit {} ({} bytes; {} needed for shape {}); the model and "
               "its data file do not belong together, re-export or re-save it",
               tensor_label(tp), offset, length, location, m->size(), bytes, shape_str(shape));
    auto keep = m;
    auto buf = Buffer::view(const_cast<char*>(m->data()) + offset, bytes, keep);
    return Tensor::view(dt, shape, buf);
  }

  if (dt == DType::String) {
    KILN_CHECK(tp.string_data_size() == n, BadModel, "tensor {}: {} strings for shape {}", tensor_label(tp),
               tp.string_data_size(), shape_str(shape));
    Tensor t(dt, shape);
    for (int64_t i = 0; i < n; ++i) t.data<std::string>()[i] = tp.string_data((int)i);
    return t;
  }

  if (tp.has_raw_data() && span && span->present) {
    KILN_CHECK(span->size == bytes, BadModel, "tensor {}: {} bytes of data for shape {} of {} ({} expected)",
               tensor_label(tp), span->size, shape_str(shape), dtype_name(dt), bytes);
    return mapped_tensor(dt, shape, ctx.model_file->data() + span->offset, bytes, ctx.model_file);
  }

  if (tp.has_raw_data()) {
    KILN_CHECK(tp.raw_data().size() == bytes, BadModel, "tensor {}: {} bytes of data for shape {} of {} ({} expected)",
               tensor_label(tp), tp.raw_data().size(), shape_str(shape), dtype_name(dt), bytes);
    // Take the bytes over from the protobuf (no second copy). A std::string's data is only
    // 16-byte aligned at best; kernels that need more copy or use unaligned loads.
    auto owner = std::make_shared<std::string>();
    owner->swap(*tp.mutable_raw_data());
    if (reinterpret_cast<uintptr_t>(owner->data()) % 16 != 0 && bytes) {
      Tensor t(dt, shape);
      std::memcpy(t.raw(), owner->data(), bytes);
      return t;
    }
    auto buf = Buffer::view(owner->data(), bytes, owner);
    return Tensor::view(dt, shape, buf);
  }

  Tensor t(dt, shape);
  auto need = [&](int64_t have) {
    KILN_CHECK(have == n, BadModel, "tensor {}: {} values for shape {}", tensor_label(tp), have, shape_str(shape));
  };
  switch (dt) {
    case DType::F32:
      need(tp.float_data_size());
      if (n) std::memcpy(t.raw(), tp.float_data().data(), bytes);
      break;
    case DType::F64:
      need(tp.double_data_size());
      if (n) std::memcpy(t.raw(), tp.double_data().data(), bytes);
      break;
    case DType::I64:
      need(tp.int64_data_size());
      if (n) std::memcpy(t.raw(), tp.int64_data().data(), bytes);
      break;
    case DType::U64: case DType::U32:
      need(tp.uint64_data_size());
      for (int64_t i = 0; i < n; ++i) {
        if (dt == DType::U64) t.data<uint64_t>()[i] = tp.uint64_data((int)i);
        else t.data<uint32_t>()[i] = (uint32_t)tp.uint64_data((int)i);
      }
      break;
    case DType::I32: case DType::I16: case DType::U16: case DType::I8: case DType::U8: case DType::Bool:
    case DType::F16: case DType::BF16:
      need(tp.int32_data_size());
      dispatch_numeric(dt, [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (int64_t i = 0; i < n; ++i) {
          int32_t v = tp.int32_data((int)i);
          if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) p[i] = T::from_bits((uint16_t)v);
          else p[i] = (T)v;
        }
      });
      break;
    default:
      throw Unsupported(fmt::format("tensor {}: element type {} not supported", tensor_label(tp), dtype_name(dt)));
  }
  return t;
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& vp) {
  ValueInfo v;
  v.name = vp.name();
  v.doc = vp.doc_string();
  if (!vp.has_type()) return v;
  const auto& type = vp.type();
  if (type.has_tensor_type()) {
    const auto& tt = type.tensor_type();
    v.dtype = dtype_is_known(tt.elem_type()) ? (DType)tt.elem_type() : DType::Undefined;
    if (tt.has_shape()) {
      std::vector<Dim> dims;
      for (const auto& d : tt.shape().dim()) {
        Dim dim;
        if (d.has_dim_value()) dim.value = d.dim_value();
        else if (d.has_dim_param()) dim.symbol = d.dim_param();
        dims.push_back(dim);
      }
      v.shape = std::move(dims);
    }
  } else if (type.has_sequence_type() || type.has_optional_type() || type.has_map_type()) {
    v.is_sequence = true;
  }
  return v;
}

Attribute attribute_from_proto(onnx::AttributeProto& ap, LoadContext& ctx, const std::string& node, int depth) {
  Attribute a;
  a.ref_attr_name = ap.ref_attr_name();
  using AP = onnx::AttributeProto;
  switch (ap.type()) {
    case AP::FLOAT: a.kind = Attribute::Kind::Float; a.f = ap.f(); break;
    case AP::INT: a.kind = Attribute::Kind::Int; a.i = ap.i(); break;
    case AP::STRING: a.kind = Attribute::Kind::String; a.s = ap.s(); break;
    case AP::TENSOR: a.kind = Attribute::Kind::Tensor; a.t = tensor_from_proto(*ap.mutable_t(), ctx); break;
    case AP::GRAPH:
      a.kind = Attribute::Kind::Graph;
      a.g = std::make_shared<Graph>(graph_from_proto(ap.g(), ctx, depth + 1));
      break;
    case AP::FLOATS: a.kind = Attribute::Kind::Floats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
    case AP::INTS: a.kind = Attribute::Kind::Ints; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
    case AP::STRINGS: a.kind = Attribute::Kind::Strings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
    case AP::TENSORS:
      a.kind = Attribute::Kind::Tensors;
      for (auto& t : *ap.mutable_tensors()) a.tensors.push_back(tensor_from_proto(t, ctx));
      break;
    case AP::GRAPHS:
      a.kind = Attribute::Kind::Graphs;
      for (const auto& g : ap.graphs()) a.graphs.push_back(std::make_shared<Graph>(graph_from_proto(g, ctx, depth + 1)));
      break;
    case AP::UNDEFINED:
      // Older exporters leave type unset: infer it from the one field that is set.
      if (ap.has_f()) { a.kind = Attribute::Kind::Float; a.f = ap.f(); }
      else if (ap.has_i()) { a.kind = Attribute::Kind::Int; a.i = ap.i(); }
      else if (ap.has_s()) { a.kind = Attribute::Kind::String; a.s = ap.s(); }
      else if (ap.has_t()) { a.kind = Attribute::Kind::Tensor; a.t = tensor_from_proto(*ap.mutable_t(), ctx); }
      else if (ap.has_g()) { a.kind = Attribute::Kind::Graph; a.g = std::make_shared<Graph>(graph_from_proto(ap.g(), ctx, depth + 1)); }
      else if (ap.floats_size()) { a.kind = Attribute::Kind::Floats; a.floats.assign(ap.floats().begin(), ap.floats().end()); }
      else if (ap.ints_size()) { a.kind = Attribute::Kind::Ints; a.ints.assign(ap.ints().begin(), ap.ints().end()); }
      else if (ap.strings_size()) { a.kind = Attribute::Kind::Strings; a.strings.assign(ap.strings().begin(), ap.strings().end()); }
      else throw BadModel(fmt::format("node '{}': attribute '{}' has no type and no value", node, ap.name()));
      break;
    default:
      throw Unsupported(fmt::format("node '{}': attribute '{}' has type {} (sparse tensors and type protos are not supported)",
                                    node, ap.name(), (int)ap.type()));
  }
  return a;
}

Graph graph_from_proto(const onnx::GraphProto& gp_const, LoadContext& ctx, int depth) {
  const bool top_level = depth == 0;
  // Tensors are moved out of the proto (no copies), so work on a mutable view of it.
  auto& gp = const_cast<onnx::GraphProto&>(gp_const);
  check_subgraph_depth(depth, gp.name(), ctx.limits);
  Graph g;
  g.name = gp.name();
  g.doc = gp.doc_string();
  KILN_CHECK(gp.sparse_initializer_size() == 0, Unsupported,
             "graph '{}' has sparse initializers, which kiln does not support yet", g.name);
  // Spans of the top-level graph's initializers in the mapped file (one per initializer).
  const bool spans = top_level && ctx.model_file && (int)ctx.raw_spans.size() == gp.initializer_size();
  for (int i = 0; i < gp.initializer_size(); ++i) {
    auto& tp = *gp.mutable_initializer(i);
    KILN_CHECK(!tp.name().empty(), BadModel, "graph '{}' has an initializer without a name", g.name);
    KILN_CHECK(!g.initializers.count(tp.name()), BadModel,
               "graph '{}': two initializers are named '{}'; every value needs a name of its own, so the model file "
               "is corrupt, re-export it",
               g.name, tp.name());
    g.initializers[tp.name()] = tensor_from_proto(tp, ctx, spans ? &ctx.raw_spans[(size_t)i] : nullptr);
  }
  for (const auto& v : gp.input()) {
    // Old exporters (IR < 4) list initializers as inputs too; those are not real inputs.
    if (g.initializers.count(v.name())) continue;
    g.inputs.push_back(value_info_from_proto(v));
  }
  for (const auto& v : gp.output()) g.outputs.push_back(value_info_from_proto(v));
  for (const auto& v : gp.value_info()) g.value_info.push_back(value_info_from_proto(v));
  for (auto& np : *gp.mutable_node()) {
    Node n;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = canonical_domain(np.domain());
    n.doc = np.doc_string();
    KILN_CHECK(!n.op_type.empty(), BadModel, "graph '{}': node '{}' has no op_type", g.name, n.name);
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (auto& ap : *np.mutable_attribute()) {
      KILN_CHECK(!ap.name().empty(), BadModel, "node '{}' has an attribute without a name", n.name);
      n.attributes[ap.name()] = attribute_from_proto(ap, ctx, n.name, depth);
    }
    g.nodes.push_back(std::move(n));
  }
  return g;
}

Model model_from_proto(onnx::ModelProto& mp, LoadContext& ctx) {
  Model m;
  m.ir_version = mp.ir_version();
  KILN_CHECK(m.ir_version >= 1 && m.ir_version <= 10, Unsupported,
             "IR version {} is not supported (kiln reads ONNX IR versions 1 to 10)", m.ir_version);
  KILN_CHECK(mp.has_graph(), BadModel, "the model has no graph");
  for (const auto& o : mp.opset_import()) m.opsets.push_back({canonical_domain(o.domain()), o.version()});
  if (m.opsets.empty()) m.opsets.push_back({"", 1});  // IR < 3 implied opset 1
  int64_t onnx_opset = m.opset("");
  KILN_CHECK(onnx_opset <= 21, Unsupported,
             "the model imports ai.onnx opset {}; kiln supports opsets up to 21", onnx_opset);
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  m.domain = mp.domain();
  m.model_version = mp.model_version();
  m.doc = mp.doc_string();
  for (const auto& kv : mp.metadata_props()) m.metadata[kv.key()] = kv.value();
  m.graph = graph_from_proto(mp.graph(), ctx, 0);
  m.graph.topological_sort({}, true);
  return m;
}

void check_model_size(size_t size, const std::string& what, const LoadLimits& limits) {
  KILN_CHECK(size > 0, BadModel, "{} is empty; expected an ONNX model", what);
  KILN_CHECK(size < (size_t)INT32_MAX, BadModel,
             "{} is over 2 GB; ONNX files that large must keep their weights as external data", what);
  check_model_bytes(size, what, limits);
}

// Protobuf's nesting limit: deep enough for max_subgraph_depth levels of subgraphs (a graph sits
// three messages below the one above it: node, attribute, graph) plus the types and tensors inside
// the deepest, and never below what the default depth needs, so the depth check, not the parser,
// reports a model nested too deep. Without a depth limit, still bounded: the parser and the loader
// recurse, and 1000 messages (about 330 levels of subgraphs) stay well inside a thread's stack.
int recursion_limit(const LoadLimits& limits) {
  if (limits.max_subgraph_depth <= 0) return 1000;
  return 3 * std::max(limits.max_subgraph_depth, LoadLimits::kDefaultMaxSubgraphDepth) + 64;
}

[[noreturn]] void not_onnx(const std::string& what) {
  throw BadModel(fmt::format("{} is not a valid ONNX model (protobuf parse failed: truncated, not ONNX, or nested "
                             "deeper than protobuf allows); check the file, or download or export it again",
                             what));
}

void parse_model_proto(onnx::ModelProto& mp, const void* data, size_t size, const std::string& what,
                       const LoadLimits& limits) {
  check_model_size(size, what, limits);
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data), (int)size);
  in.SetRecursionLimit(recursion_limit(limits));
  if (!mp.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) not_onnx(what);
}

// Parses a model file read through a small buffer rather than mapped: the parse copies inline
// tensors' bytes into the protobuf anyway (load_tensor then takes them over), so a mapping would
// only add the whole file's pages to the process's memory while it loads.
void parse_model_file(onnx::ModelProto& mp, const std::string& path, const LoadLimits& limits) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  KILN_CHECK(!ec, IoError, "cannot read model file {}: {}", path, ec.message());
  check_model_size((size_t)size, path, limits);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  KILN_CHECK(fd >= 0, IoError, "cannot open model file {}: {}; check its permissions", path, std::strerror(errno));
  google::protobuf::io::FileInputStream file(fd, 1 << 20);
  file.SetCloseOnDelete(true);
  bool ok = false;
  {
    google::protobuf::io::CodedInputStream in(&file);
    in.SetRecursionLimit(recursion_limit(limits));
    in.SetTotalBytesLimit(INT32_MAX);
    ok = mp.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
  }
  KILN_CHECK(file.GetErrno() == 0, IoError, "cannot read model file {}: {}", path, std::strerror(file.GetErrno()));
  if (!ok) not_onnx(path);
}

// Zero-copy load of embedded weights: maps the file, parses it without the top-level
// initializers' raw_data (graph/onnx_wire.h) and leaves ctx pointing at the mapping for them.
// Returns false, with mp and ctx untouched, when the file cannot be taken that way (it cannot be
// mapped, or its wire data is not followed by the pre-scan); parse_model_file then reads it as it
// is and reports any error with the usual message.
bool parse_mapped_model(onnx::ModelProto& mp, const std::string& path, LoadContext& ctx) {
  std::shared_ptr<MappedFile> file;
  try {
    file = MappedFile::open(path);
  } catch (const Error&) {
    return false;
  }
  if (file->size() == 0 || file->size() >= (size_t)INT32_MAX) return false;
  check_model_size(file->size(), path, ctx.limits);
  std::string slim;
  std::vector<RawDataSpan> spans;
  if (!slim_model_bytes(file->data(), file->size(), &slim, &spans)) return false;
  // Nothing to point at: the plain parse is as good and keeps no mapping alive.
  bool any = false;
  for (const auto& s : spans) any = any || (s.present && s.size > 0);
  if (!any) return false;
  parse_model_proto(mp, slim.data(), slim.size(), path, ctx.limits);
  ctx.model_file = std::move(file);
  ctx.raw_spans = std::move(spans);
  return true;
}

}  // namespace

Model load_model(const std::string& path, const LoadLimits& limits) {
  KILN_CHECK(fs::exists(path), IoError, "model file {} does not exist", path);
  KILN_CHECK(!fs::is_directory(path), BadInput, "{} is a folder; give the path of a .onnx file", path);
  onnx::ModelProto mp;
  LoadContext ctx;
  ctx.limits = limits;
  if (!parse_mapped_model(mp, path, ctx)) parse_model_file(mp, path, limits);
  ctx.base_dir = fs::absolute(fs::path(path)).parent_path().string();
  Model m = model_from_proto(mp, ctx);
  m.path = path;
  return m;
}

Model load_model_from_bytes(const void* data, size_t size, const std::string& base_dir, const LoadLimits& limits) {
  onnx::ModelProto mp;
  parse_model_proto(mp, data, size, "the model bytes", limits);
  LoadContext ctx;
  ctx.limits = limits;
  ctx.base_dir = base_dir;
  return model_from_proto(mp, ctx);
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  auto file = MappedFile::open(path);
  onnx::TensorProto tp;
  KILN_CHECK(file->size() < (size_t)INT32_MAX && tp.ParseFromArray(file->data(), (int)file->size()), BadInput,
             "{} is not a valid ONNX TensorProto file", path);
  if (name) *name = tp.name();
  LoadContext ctx;
  ctx.base_dir = fs::absolute(fs::path(path)).parent_path().string();
  return tensor_from_proto(tp, ctx);
}

}  // namespace kiln
