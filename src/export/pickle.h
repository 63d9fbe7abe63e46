// A restricted unpickler for the data.pkl of a torch.save archive holding a state dict. It is a
// pickle *reader*, not a Python: it understands the opcodes of protocols 2-5 that torch.save writes
// and a fixed list of globals (collections.OrderedDict, torch._utils._rebuild_tensor(_v2),
// _rebuild_parameter(_with_state), the torch.*Storage types), whose effect it reproduces itself.
// Any other global — os.system, builtins.eval, numpy's reconstructors — is refused by name with
// BadModel before anything else happens; nothing in the pickle is ever executed or imported.
//
// The result names the tensors and the storages they view; the storages' bytes live elsewhere
// (the archive's data/<key> entries) and are resolved by the caller (torch_checkpoint.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace kiln::exporting {

// A persistent id ('storage', torch.<T>Storage, key, location, numel).
struct PickledStorage {
  DType dtype = DType::Undefined;
  std::string key;
  int64_t numel = 0;  // elements of dtype
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a strided view, checked to
// lie inside its storage's numel.
struct PickledTensor {
  size_t storage = 0;  // index into PickledStateDict::storages
  int64_t offset = 0;  // elements
  Shape size;
  std::vector<int64_t> stride;  // elements
};

struct PickledStateDict {
  std::vector<PickledStorage> storages;                        // one per distinct key
  std::vector<std::pair<std::string, PickledTensor>> tensors;  // in pickle order, names unique
};

// Reads a pickled state dict ({name: tensor}, a dict or OrderedDict). Throws BadModel naming
// `what` for a refused global, an opcode torch.save does not write, a malformed pickle (truncated,
// stack underflow, bad memo index, wrong argument types) or a tensor outside its storage.
PickledStateDict unpickle_state_dict(const char* data, size_t size, const std::string& what);

// The pickles of PyTorch's legacy (pre-1.6) torch.save stream: magic number, protocol version 1001,
// sys_info, the state dict (persistent ids with a sixth field, None), the sorted list of storage
// keys. The storages' bytes follow at `end`, in the keys' order, each as an int64 element count
// and the raw elements.
struct LegacyPickles {
  PickledStateDict state;
  std::vector<std::string> keys;
  size_t end = 0;
};
LegacyPickles unpickle_legacy(const char* data, size_t size, const std::string& what);

}  // namespace kiln::exporting
