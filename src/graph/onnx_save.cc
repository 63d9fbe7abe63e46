// IR -> ONNX protobuf.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unordered_set>
#include <vector>

#include "graph/external_data.h"
#include "graph/onnx_io.h"
#include "onnx/onnx_pb.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

struct SaveContext {
  bool external = false;
  size_t threshold = 1024;
  std::string location;        // file name written into the model
  std::ofstream* data = nullptr;
  int64_t offset = 0;
  SharedExternalData* shared = nullptr;
  // Set while the main graph's initializers are converted by save_model: inline tensors then get
  // their header only and are listed here, and their bytes are written from the Tensor straight
  // into the file (write_model) instead of being copied into the protobuf first.
  std::vector<std::pair<onnx::TensorProto, const Tensor*>>* deferred = nullptr;
};

void graph_to_proto(const Graph& g, onnx::GraphProto& gp, SaveContext& ctx);

// Returns false when the tensor's inline bytes were left out (omit_raw): the caller writes them.
bool tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& tp, SaveContext& ctx,
                     bool omit_raw = false) {
  tp.set_name(name);
  tp.set_data_type((int32_t)t.dtype());
  for (int64_t d : t.shape()) tp.add_dims(d);
  if (t.dtype() == DType::String) {
    for (int64_t i = 0; i < t.numel(); ++i) tp.add_string_data(t.data<std::string>()[i]);
    return true;
  }
  if (ctx.shared && t.nbytes() >= ctx.threshold) {
    int64_t at = ctx.shared->append(t);
    tp.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = tp.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", ctx.shared->location());
    add("offset", std::to_string(at));
    add("length", std::to_string(t.nbytes()));
    return true;
  }
  if (ctx.external && ctx.data && t.nbytes() >= ctx.threshold) {
    // Align each tensor to 4 KiB so readers can map it directly.
    int64_t pad = (4096 - ctx.offset % 4096) % 4096;
    static const char zeros[4096] = {};
    ctx.data->write(zeros, pad);
    ctx.offset += pad;
    ctx.data->write(static_cast<const char*>(t.raw()), (std::streamsize)t.nbytes());
    tp.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = tp.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", ctx.location);
    add("offset", std::to_string(ctx.offset));
    add("length", std::to_string(t.nbytes()));
    ctx.offset += (int64_t)t.nbytes();
    return true;
  }
  if (omit_raw) return false;
  tp.set_raw_data(t.raw(), t.nbytes());
  return true;
}

void value_info_to_proto(const ValueInfo& v, onnx::ValueInfoProto& vp) {
  vp.set_name(v.name);
  if (!v.doc.empty()) vp.set_doc_string(v.doc);
  if (v.is_sequence) return;
  auto* tt = vp.mutable_type()->mutable_tensor_type();
  tt->set_elem_type((int32_t)v.dtype);
  if (v.shape) {
    auto* shape = tt->mutable_shape();
    for (const auto& d : *v.shape) {
      auto* dp = shape->add_dim();
      if (d.value) dp->set_dim_value(*d.value);
      else if (!d.symbol.empty()) dp->set_dim_param(d.symbol);
    }
  }
}

void attribute_to_proto(const std::string& name, const Attribute& a, onnx::AttributeProto& ap, SaveContext& ctx) {
  using AP = onnx::AttributeProto;
  ap.set_name(name);
  if (!a.ref_attr_name.empty()) ap.set_ref_attr_name(a.ref_attr_name);
  switch (a.kind) {
    case Attribute::Kind::Float: ap.set_type(AP::FLOAT); ap.set_f(a.f); break;
    case Attribute::Kind::Int: ap.set_type(AP::INT); ap.set_i(a.i); break;
    case Attribute::Kind::String: ap.set_type(AP::STRING); ap.set_s(a.s); break;
    case Attribute::Kind::Tensor: {
      ap.set_type(AP::TENSOR);
      SaveContext inline_ctx;  // attribute tensors stay inline
      tensor_to_proto(a.t, "", *ap.mutable_t(), inline_ctx);
      break;
    }
    case Attribute::Kind::Graph: ap.set_type(AP::GRAPH); graph_to_proto(*a.g, *ap.mutable_g(), ctx); break;
    case Attribute::Kind::Floats: ap.set_type(AP::FLOATS); for (float f : a.floats) ap.add_floats(f); break;
    case Attribute::Kind::Ints: ap.set_type(AP::INTS); for (int64_t i : a.ints) ap.add_ints(i); break;
    case Attribute::Kind::Strings: ap.set_type(AP::STRINGS); for (const auto& s : a.strings) ap.add_strings(s); break;
    case Attribute::Kind::Tensors: {
      ap.set_type(AP::TENSORS);
      SaveContext inline_ctx;
      for (const auto& t : a.tensors) tensor_to_proto(t, "", *ap.add_tensors(), inline_ctx);
      break;
    }
    case Attribute::Kind::Graphs:
      ap.set_type(AP::GRAPHS);
      for (const auto& g : a.graphs) graph_to_proto(*g, *ap.add_graphs(), ctx);
      break;
  }
}

void graph_to_proto(const Graph& g, onnx::GraphProto& gp, SaveContext& ctx) {
  gp.set_name(g.name);
  if (!g.doc.empty()) gp.set_doc_string(g.doc);
  auto* deferred = ctx.deferred;
  ctx.deferred = nullptr;  // subgraphs keep their initializers in the protobuf
  // An initializer nothing reads is not written: a rewrite that replaced a weight (quantization's
  // originals, a folded constant) must not leave it in the file, where it only adds bytes.
  std::unordered_set<std::string> used;
  for (const auto& v : g.inputs) used.insert(v.name);
  for (const auto& v : g.outputs) used.insert(v.name);
  for (const auto& n : g.nodes) {
    for (const auto& i : n.inputs) used.insert(i);
    for (const auto& [_, a] : n.attributes) {
      if (a.g) collect_outer_reads(*a.g, used);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, used);
    }
  }
  for (const auto& [name, t] : g.initializers) {
    if (!used.count(name)) continue;
    if (!deferred) {
      tensor_to_proto(t, name, *gp.add_initializer(), ctx);
      continue;
    }
    onnx::TensorProto tp;
    if (tensor_to_proto(t, name, tp, ctx, true)) *gp.add_initializer() = std::move(tp);
    else deferred->push_back({std::move(tp), &t});
  }
  for (const auto& v : g.inputs) value_info_to_proto(v, *gp.add_input());
  for (const auto& v : g.outputs) value_info_to_proto(v, *gp.add_output());
  for (const auto& v : g.value_info) value_info_to_proto(v, *gp.add_value_info());
  for (const auto& n : g.nodes) {
    auto* np = gp.add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    if (!n.doc.empty()) np->set_doc_string(n.doc);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [k, a] : n.attributes) attribute_to_proto(k, a, *np->add_attribute(), ctx);
  }
  ctx.deferred = deferred;
}

void model_to_proto(const Model& m, onnx::ModelProto& mp, SaveContext& ctx) {
  mp.set_ir_version(m.ir_version);
  mp.set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) mp.set_producer_version(m.producer_version);
  if (!m.domain.empty()) mp.set_domain(m.domain);
  if (m.model_version) mp.set_model_version(m.model_version);
  if (!m.doc.empty()) mp.set_doc_string(m.doc);
  for (const auto& o : m.opsets) {
    auto* op = mp.add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  for (const auto& [k, v] : m.metadata) {
    auto* e = mp.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  graph_to_proto(m.graph, *mp.mutable_graph(), ctx);
}

int64_t total_tensor_bytes(const Graph& g) { return g.parameter_bytes(); }

void put_varint(std::ostream& f, uint64_t v) {
  char b[10];
  int n = 0;
  do {
    b[n++] = (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v >>= 7;
  } while (v);
  f.write(b, n);
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

// Writes mp (whose main graph's inline initializers are in `deferred`, headers without bytes) as
// the one ModelProto it stands for: protobuf accepts a message's fields in any order, so each
// deferred initializer is written as its header followed by its raw_data field (9), the bytes coming
// straight from the Tensor, and the graph (ModelProto field 7) as its other fields followed by the
// initializers (GraphProto field 5).
bool write_model(onnx::ModelProto& mp, const std::vector<std::pair<onnx::TensorProto, const Tensor*>>& deferred,
                 std::ostream& f) {
  std::unique_ptr<onnx::GraphProto> gp(mp.release_graph());
  if (!mp.SerializeToOstream(&f)) return false;
  std::vector<size_t> entry;  // each initializer's length
  size_t graph_len = gp->ByteSizeLong();
  for (const auto& [tp, t] : deferred) {
    size_t n = t->nbytes();
    entry.push_back(tp.ByteSizeLong() + 1 + varint_size(n) + n);
    graph_len += 1 + varint_size(entry.back()) + entry.back();
  }
  f.put((char)((7 << 3) | 2));
  put_varint(f, graph_len);
  if (!gp->SerializeToOstream(&f)) return false;
  for (size_t i = 0; i < deferred.size(); ++i) {
    const auto& [tp, t] = deferred[i];
    f.put((char)((5 << 3) | 2));
    put_varint(f, entry[i]);
    if (!tp.SerializeToOstream(&f)) return false;
    f.put((char)((9 << 3) | 2));
    put_varint(f, t->nbytes());
    f.write(static_cast<const char*>(t->raw()), (std::streamsize)t->nbytes());
  }
  return (bool)f;
}

std::string temp_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

}  // namespace

std::string model_to_bytes(const Model& model) {
  KILN_CHECK(total_tensor_bytes(model.graph) < (int64_t)INT32_MAX - (64 << 20), BadInput,
             "the model's tensors exceed 2 GB; save it to a file with external data");
  onnx::ModelProto mp;
  SaveContext ctx;
  model_to_proto(model, mp, ctx);
  std::string out;
  mp.SerializeToString(&out);
  return out;
}

void save_model(const Model& model, const std::string& path, const SaveOptions& options) {
  SaveContext ctx;
  ctx.external = options.external_data || total_tensor_bytes(model.graph) >= (int64_t)INT32_MAX - (64 << 20);
  ctx.threshold = options.external_threshold;
  if (options.shared_data) {
    ctx.shared = options.shared_data;
    ctx.external = false;
  }
  std::string data_path, data_tmp;
  std::ofstream data;
  if (ctx.external) {
    ctx.location = options.external_file.empty() ? fs::path(path).filename().string() + ".data" : options.external_file;
    KILN_CHECK(fs::path(ctx.location).filename() == fs::path(ctx.location), BadInput,
               "external data file '{}' must be a plain file name in the model's folder", ctx.location);
    data_path = (fs::path(path).parent_path() / ctx.location).string();
    data_tmp = temp_name(data_path);
    data.open(data_tmp, std::ios::binary | std::ios::trunc);
    KILN_CHECK(data.good(), IoError, "cannot write {}: check the folder exists and is writable", data_path);
    ctx.data = &data;
  }
  onnx::ModelProto mp;
  std::vector<std::pair<onnx::TensorProto, const Tensor*>> deferred;
  ctx.deferred = &deferred;
  model_to_proto(model, mp, ctx);
  std::string tmp = temp_name(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    bool ok = f.good() && write_model(mp, deferred, f);
    f.close();
    if (ctx.external) data.close();
    if (!ok || !f || (ctx.external && !data)) {
      std::remove(tmp.c_str());
      if (ctx.external) std::remove(data_tmp.c_str());
      throw IoError(fmt::format("cannot write {} (folder missing, not writable, or disk full)", path));
    }
  }
  if (ctx.external && std::rename(data_tmp.c_str(), data_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    std::remove(data_tmp.c_str());
    throw IoError(fmt::format("cannot rename into {}", data_path));
  }
  if (options.defer_rename) {
    *options.defer_rename = tmp;
    return;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(fmt::format("cannot rename into {}", path));
  }
}

}  // namespace kiln
