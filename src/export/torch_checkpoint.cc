#include "export/torch_checkpoint.h"

#include <cstring>

#include "export/pickle.h"
#include "export/zip_reader.h"

namespace kiln::exporting {

namespace {

constexpr size_t kMaxPickleBytes = (size_t)1 << 30;

[[noreturn]] void refuse_non_zip(const char* data, size_t size, const std::string& what) {
  KILN_CHECK(!(size >= 262 && std::memcmp(data + 257, "ustar", 5) == 0), Unsupported,  // the earliest torch.save
             "{} is in PyTorch's oldest (tar) format, which kiln does not read; re-save it: "
             "python -c \"import torch; torch.save(torch.load('pytorch_model.bin'), 'pytorch_model.bin')\", or as "
             "safetensors with save_pretrained(..., safe_serialization=True)",
             what);
  throw BadModel(fmt::format("{} is not a torch.save archive (no zip signature); the file is damaged or of another kind",
                             what));
}

// The archive's one top-level folder: "<name>/" of "<name>/data.pkl".
const ZipEntry& find_pickle(const ZipArchive& zip, std::string* prefix) {
  const ZipEntry* found = nullptr;
  for (const auto& [name, e] : zip.entries()) {
    size_t slash = name.find('/');
    if (slash == std::string::npos || name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    KILN_CHECK(!found, BadModel, "{} holds two pickles ({} and {}); it is not one torch.save archive", zip.what(),
               found ? found->name : "", name);
    found = &e;
    *prefix = name.substr(0, slash + 1);
  }
  KILN_CHECK(found, BadModel, "{} is a zip archive without <archive>/data.pkl; it was not written by torch.save",
             zip.what());
  return *found;
}

bool contiguous(const Shape& size, const std::vector<int64_t>& stride) {
  int64_t expect = 1;
  for (size_t d = size.size(); d-- > 0;) {
    if (size[d] != 1 && stride[d] != expect) return false;
    expect *= size[d];
  }
  return true;
}

// A contiguous copy of a strided view (element offsets checked by the unpickler).
Tensor gather(DType dt, const Shape& size, const std::vector<int64_t>& stride, const char* base) {
  Tensor out(dt, size);
  const size_t es = dtype_size(dt);
  char* dst = static_cast<char*>(out.raw());
  const int rank = (int)size.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t off = 0;
  for (int64_t n = 0; n < out.numel(); ++n) {
    std::memcpy(dst + n * es, base + off * es, es);
    for (int d = rank - 1; d >= 0; --d) {  // odometer step, keeping off = sum idx * stride
      if (++idx[d] < size[d]) {
        off += stride[d];
        break;
      }
      off -= (size[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

// The state dict's tensors over their storages' bytes (one buffer per storage, in sd.storages'
// order). Contiguous aligned views are zero-copy; others are copied, within a budget.
std::map<std::string, Tensor> build_tensors(const PickledStateDict& sd, const std::vector<std::shared_ptr<Buffer>>& storages,
                                            size_t file_size, const std::string& what) {
  // Strided views are copied; bound the copies so a tiny file cannot ask for terabytes.
  uint64_t copy_budget = 2 * (uint64_t)file_size + ((uint64_t)64 << 20);
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : sd.tensors) {
    const PickledStorage& s = sd.storages[t.storage];
    const size_t es = dtype_size(s.dtype);
    const std::shared_ptr<Buffer>& buf = storages[t.storage];
    const char* base = static_cast<const char*>(buf->data()) + t.offset * es;
    const uint64_t bytes = (uint64_t)shape_numel(t.size) * es;
    if (contiguous(t.size, t.stride) && reinterpret_cast<uintptr_t>(base) % es == 0) {
      out[name] = Tensor::view(s.dtype, t.size, buf, t.offset * es);
      continue;
    }
    KILN_CHECK(bytes <= copy_budget, BadModel,
               "{}: tensor '{}' is a strided view of {} bytes, more than the file could hold; the file is damaged",
               what, name, bytes);
    copy_budget -= bytes;
    out[name] = contiguous(t.size, t.stride) ? Tensor::view(s.dtype, t.size, buf, t.offset * es).clone()
                                             : gather(s.dtype, t.size, t.stride, base);
  }
  return out;
}

// The legacy stream: pickles, then each storage as an int64 element count and its elements.
std::map<std::string, Tensor> parse_legacy(const std::shared_ptr<MappedFile>& file, const std::string& what) {
  const char* data = file->data();
  const size_t size = file->size();
  LegacyPickles lp = unpickle_legacy(data, size, what);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < lp.state.storages.size(); ++i) index[lp.state.storages[i].key] = i;
  std::vector<std::shared_ptr<Buffer>> storages(lp.state.storages.size());
  size_t pos = lp.end;
  for (const std::string& key : lp.keys) {
    auto it = index.find(key);
    KILN_CHECK(it != index.end(), BadModel, "{}: storage '{}' is listed but no tensor uses it; the file is damaged",
               what, key);
    const PickledStorage& s = lp.state.storages[it->second];
    KILN_CHECK(!storages[it->second], BadModel, "{}: storage '{}' is listed twice; the file is damaged", what, key);
    KILN_CHECK(size - pos >= 8, BadModel, "{}: the file ends before storage '{}'; it is truncated", what, key);
    int64_t numel = 0;
    std::memcpy(&numel, data + pos, 8);
    pos += 8;
    const uint64_t bytes = (uint64_t)s.numel * dtype_size(s.dtype);
    KILN_CHECK(numel == s.numel && bytes <= size - pos, BadModel,
               "{}: storage '{}' ({} {} elements) does not fit the file (count {} at byte {}); it is truncated or damaged",
               what, key, s.numel, dtype_name(s.dtype), numel, pos - 8);
    storages[it->second] = Buffer::view(const_cast<char*>(data + pos), bytes, file);
    pos += bytes;
  }
  for (size_t i = 0; i < storages.size(); ++i)
    KILN_CHECK(storages[i], BadModel, "{}: storage '{}' has no data in the file; it is truncated or damaged", what,
               lp.state.storages[i].key);
  return build_tensors(lp.state, storages, size, what);
}

}  // namespace

std::map<std::string, Tensor> parse_torch_checkpoint(std::shared_ptr<MappedFile> file, const std::string& what) {
  const bool legacy = file->size() >= 2 && (unsigned char)file->data()[0] == 0x80 && file->data()[1] == 2;
  if (legacy) return parse_legacy(file, what);
  if (!looks_like_zip(file->data(), file->size())) refuse_non_zip(file->data(), file->size(), what);
  ZipArchive zip(file, what);
  std::string prefix;
  const ZipEntry& pkl = find_pickle(zip, &prefix);
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    std::string bo(zip.data(*order), order->size);
    KILN_CHECK(bo == "little", Unsupported, "{} was saved on a {}-endian machine; kiln reads little-endian checkpoints",
               what, bo.substr(0, 16));
  }
  KILN_CHECK(pkl.size <= kMaxPickleBytes, BadModel, "{}: data.pkl has {} bytes, far more than a state dict needs", what,
             pkl.size);
  PickledStateDict sd = unpickle_state_dict(zip.data(pkl), pkl.size, what);

  std::vector<std::shared_ptr<Buffer>> storages;
  for (const PickledStorage& s : sd.storages) {
    const std::string entry = prefix + "data/" + s.key;
    const ZipEntry* e = zip.find(entry);
    KILN_CHECK(e, BadModel, "{}: storage '{}' is missing from the archive (no entry {}); the file is truncated or damaged",
               what, s.key, entry);
    const uint64_t bytes = (uint64_t)s.numel * dtype_size(s.dtype);
    KILN_CHECK(e->size >= bytes, BadModel, "{}: storage '{}' has {} bytes but the pickle says {} {} elements ({} bytes)",
               what, s.key, e->size, s.numel, dtype_name(s.dtype), bytes);
    storages.push_back(Buffer::view(const_cast<char*>(zip.data(*e)), bytes, file));
  }
  return build_tensors(sd, storages, file->size(), what);
}

std::map<std::string, Tensor> read_torch_checkpoint(const std::string& path) {
  return parse_torch_checkpoint(MappedFile::open(path), path);
}

}  // namespace kiln::exporting
