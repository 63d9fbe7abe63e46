#include "export/pickle.h"

#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include <fmt/ranges.h>

#include "core/error.h"

namespace kiln::exporting {

namespace {

enum class Kind : uint8_t { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

const char* kind_name(Kind k) {
  static const char* names[] = {"None",    "a bool", "an int", "a float",  "a str",     "bytes",
                                "a tuple", "a list", "a dict", "a global", "a storage", "a tensor"};
  return names[(int)k];
}

// The only globals a state dict needs; each is reproduced here, none is looked up or called.
enum class Fn : uint8_t {
  OrderedDict,
  RebuildTensor,
  RebuildTensorV2,
  RebuildParameter,
  RebuildParameterWithState,
  StorageType
};

struct Value {
  Kind kind = Kind::None;
  Fn fn = Fn::OrderedDict;        // Global
  DType dtype = DType::Undefined;  // Global StorageType
  int64_t i = 0;                  // Bool, Int; Storage and Tensor: index into the result lists
  double f = 0;                   // Float
  uint32_t obj = 0;               // Str, Bytes, Tuple, List, Dict: index into the object arena
};

// Containers have Python's reference semantics (a memoized dict filled later by SETITEMS is the
// same dict), so they live in an arena and values point at them. Cycles are harmless: nothing
// walks the graph recursively and the arena owns every object.
struct Object {
  std::string str;           // Str, Bytes
  std::vector<Value> items;  // Tuple, List; Dict as key, value, key, value ...
};

constexpr int64_t kMaxElements = (int64_t)1 << 48;
constexpr size_t kMaxRank = 64;

// What a name from the file looks like in a one-line message: printable and short.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 120)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 120) out += "...";
  return out;
}

struct StorageDtype {
  const char* name;
  DType dtype;
};
constexpr StorageDtype kStorages[] = {
    {"FloatStorage", DType::F32}, {"DoubleStorage", DType::F64}, {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16}, {"CharStorage", DType::I8}, {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool}};

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const std::string& what)
      : p_(reinterpret_cast<const uint8_t*>(data)), n_(size), what_(what) {}

  // Runs the pickle to its STOP; returns what it built. end() is then the byte after STOP.
  Value run();
  size_t end() const { return pos_; }
  PickledStateDict state_dict(const Value& root);
  std::vector<std::string> string_list(const Value& root);
  const Value* dict_get(const Value& dict, const std::string& key);
  bool legacy_ids = false;  // persistent ids of the legacy format carry a sixth field (view metadata)

 private:
  template <typename... A>
  [[noreturn]] void fail(fmt::format_string<A...> f, A&&... args) {
    throw BadModel(fmt::format("{}: {} (pickle byte {}); the file is damaged or is not a state dict saved by torch.save",
                               what_, fmt::format(f, std::forward<A>(args)...), op_pos_));
  }

  const uint8_t* take(size_t k) {
    if (k > n_ - pos_) fail("the pickle is truncated: {} more bytes expected, {} left", k, n_ - pos_);
    const uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  uint64_t take_le(size_t k) {
    const uint8_t* q = take(k);
    uint64_t v = 0;
    for (size_t j = 0; j < k; ++j) v |= (uint64_t)q[j] << (8 * j);
    return v;
  }
  std::string take_line() {
    const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
    if (!nl) fail("the pickle is truncated inside a GLOBAL name");
    size_t len = static_cast<const uint8_t*>(nl) - (p_ + pos_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return s;
  }

  uint32_t new_object() {
    if (objs_.size() >= UINT32_MAX) fail("too many objects");
    objs_.emplace_back();
    return (uint32_t)(objs_.size() - 1);
  }
  Value make(Kind k) {
    Value v;
    v.kind = k;
    if (k == Kind::Str || k == Kind::Bytes || k == Kind::Tuple || k == Kind::List || k == Kind::Dict)
      v.obj = new_object();
    return v;
  }
  Value make_str(Kind k, size_t len) {
    Value v = make(k);
    const uint8_t* q = take(len);
    objs_[v.obj].str.assign(reinterpret_cast<const char*>(q), len);
    return v;
  }
  Value make_int(int64_t i, Kind k = Kind::Int) {
    Value v;
    v.kind = k;
    v.i = i;
    return v;
  }

  size_t mark_base() const { return marks_.empty() ? 0 : marks_.back(); }
  Value pop() {
    if (stack_.size() <= mark_base()) fail("stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= mark_base()) fail("stack underflow");
    return stack_.back();
  }
  // The values pushed since the last MARK, which is removed.
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t base = marks_.back();
    marks_.pop_back();
    std::vector<Value> out(stack_.begin() + (ptrdiff_t)base, stack_.end());
    stack_.resize(base);
    return out;
  }
  Value make_tuple(std::vector<Value> items) {
    Value v = make(Kind::Tuple);
    objs_[v.obj].items = std::move(items);
    return v;
  }
  Object& container(const Value& v, Kind want, const char* op) {
    if (v.kind != want) fail("{} needs {} but finds {}", op, kind_name(want), kind_name(v.kind));
    return objs_[v.obj];
  }
  const std::string& str(const Value& v, const char* what) {
    if (v.kind != Kind::Str) fail("{} must be a str, not {}", what, kind_name(v.kind));
    return objs_[v.obj].str;
  }

  Value global(const std::string& module, const std::string& name);
  Value reduce(const Value& callable, const Value& args);
  Value rebuild_tensor(const std::vector<Value>& a);
  Value persistent_load(const Value& pid);
  void check_extent(const std::string& name, const PickledTensor& t);

  const uint8_t* p_;
  size_t n_, pos_ = 0, op_pos_ = 0;
  const std::string& what_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value> memo_;
  std::deque<Object> objs_;
  std::vector<PickledTensor> tensors_;
  std::map<std::string, size_t> storage_index_;
  PickledStateDict out_;
};

Value Unpickler::global(const std::string& module, const std::string& name) {
  Value v;
  v.kind = Kind::Global;
  if (module == "collections" && name == "OrderedDict") return v;  // v.fn = Fn::OrderedDict
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor_v2") v.fn = Fn::RebuildTensorV2;
    else if (name == "_rebuild_tensor") v.fn = Fn::RebuildTensor;  // PyTorch 0.4 and older
    else if (name == "_rebuild_parameter") v.fn = Fn::RebuildParameter;
    else if (name == "_rebuild_parameter_with_state") v.fn = Fn::RebuildParameterWithState;
    if (v.fn != Fn::OrderedDict) return v;
  }
  if (module == "torch")
    for (const auto& s : kStorages)
      if (name == s.name) {
        v.fn = Fn::StorageType;
        v.dtype = s.dtype;
        return v;
      }
  throw BadModel(fmt::format("{}: refuses to load global {}.{}: only the tensors of a state dict are read, and nothing in "
                             "the file is executed; re-save the weights as a plain state dict or as safetensors",
                             what_, printable(module), printable(name)));
}

Value Unpickler::persistent_load(const Value& pid) {
  const Object& t = container(pid, Kind::Tuple, "a persistent id");
  const size_t fields = legacy_ids ? 6 : 5;
  if (t.items.size() != fields) fail("a persistent id has {} fields; a storage has {}", t.items.size(), fields);
  // The legacy format's sixth field describes a view of a larger storage (torch.save of a storage
  // slice, not of tensors); state dicts have None.
  if (legacy_ids && t.items[5].kind != Kind::None) fail("a storage view in a legacy archive is not supported");
  if (str(t.items[0], "a persistent id's tag") != "storage") fail("a persistent id is not a storage");
  const Value& type = t.items[1];
  if (type.kind != Kind::Global || type.fn != Fn::StorageType) fail("a storage's type is not a torch.*Storage");
  const std::string& key = str(t.items[2], "a storage key");
  str(t.items[3], "a storage location");  // "cpu", "cuda:0": kiln reads the bytes either way
  const Value& numel = t.items[4];
  if (numel.kind != Kind::Int || numel.i < 0 || numel.i > kMaxElements)
    fail("storage '{}' has a bad element count", printable(key));
  auto [it, fresh] = storage_index_.emplace(key, out_.storages.size());
  if (fresh) {
    out_.storages.push_back({type.dtype, key, numel.i});
  } else {
    const PickledStorage& s = out_.storages[it->second];
    if (s.dtype != type.dtype || s.numel != numel.i)
      fail("storage '{}' is named twice with different types or sizes", printable(key));
  }
  return make_int((int64_t)it->second, Kind::Storage);
}

Value Unpickler::rebuild_tensor(const std::vector<Value>& a) {
  // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
  if (a.size() != 4 && a.size() != 6 && a.size() != 7) fail("_rebuild_tensor takes 4, 6 or 7 arguments, not {}", a.size());
  if (a[0].kind != Kind::Storage) fail("_rebuild_tensor_v2 needs a storage, not {}", kind_name(a[0].kind));
  if (a[1].kind != Kind::Int || a[1].i < 0) fail("_rebuild_tensor_v2 needs a non-negative offset");
  const std::vector<Value>& size = container(a[2], Kind::Tuple, "a tensor's size").items;
  const std::vector<Value>& stride = container(a[3], Kind::Tuple, "a tensor's stride").items;
  if (size.size() != stride.size() || size.size() > kMaxRank)
    fail("a tensor has {} sizes and {} strides", size.size(), stride.size());
  PickledTensor t;
  t.storage = (size_t)a[0].i;
  t.offset = a[1].i;
  int64_t numel = 1;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d].kind != Kind::Int || size[d].i < 0 || stride[d].kind != Kind::Int || stride[d].i < 0)
      fail("a tensor's sizes and strides must be non-negative ints");
    if (size[d].i != 0 && numel > kMaxElements / size[d].i) fail("a tensor has more than 2^48 elements");
    numel *= size[d].i;
    t.size.push_back(size[d].i);
    t.stride.push_back(stride[d].i);
  }
  tensors_.push_back(std::move(t));
  return make_int((int64_t)tensors_.size() - 1, Kind::Tensor);
}

Value Unpickler::reduce(const Value& callable, const Value& args) {
  if (callable.kind != Kind::Global) fail("REDUCE calls {}, which is not callable", kind_name(callable.kind));
  const std::vector<Value>& a = container(args, Kind::Tuple, "REDUCE's arguments").items;
  switch (callable.fn) {
    case Fn::OrderedDict:
      if (!a.empty()) fail("OrderedDict is given arguments; torch.save fills it with SETITEMS");
      return make(Kind::Dict);
    case Fn::RebuildTensor:
      if (a.size() != 4) fail("_rebuild_tensor takes 4 arguments, not {}", a.size());
      return rebuild_tensor(a);
    case Fn::RebuildTensorV2:
      if (a.size() == 4) fail("_rebuild_tensor_v2 takes 6 or 7 arguments, not 4");
      return rebuild_tensor(a);
    case Fn::RebuildParameter:
    case Fn::RebuildParameterWithState:
      // (data, requires_grad, backward_hooks[, state]): the parameter is its tensor.
      if (a.size() != (callable.fn == Fn::RebuildParameter ? 3u : 4u) || a[0].kind != Kind::Tensor)
        fail("_rebuild_parameter needs a tensor and its flags");
      return a[0];
    case Fn::StorageType:
      break;
  }
  fail("a torch.*Storage type is called; storages are read only through persistent ids");
}

void Unpickler::check_extent(const std::string& name, const PickledTensor& t) {
  const PickledStorage& s = out_.storages[t.storage];
  int64_t numel = shape_numel(t.size);
  int64_t last = t.offset;  // the highest element the view reaches
  bool fits = t.offset <= s.numel;
  for (size_t d = 0; d < t.size.size() && fits && numel > 0; ++d) {
    if (t.size[d] <= 1) continue;
    // Each term stays below the storage's 2^48 elements, so the sum cannot overflow.
    fits = t.stride[d] <= s.numel && (t.stride[d] == 0 || t.size[d] - 1 <= s.numel / t.stride[d]);
    if (fits) last += (t.size[d] - 1) * t.stride[d];
  }
  if (numel > 0) fits = fits && last < s.numel;
  if (!fits)
    throw BadModel(fmt::format("{}: tensor '{}' (size {}, stride [{}], offset {}) reaches past the end of storage '{}' "
                               "({} elements); the file is damaged",
                               what_, printable(name), shape_str(t.size), fmt::join(t.stride, ", "), t.offset,
                               printable(s.key), s.numel));
}

PickledStateDict Unpickler::state_dict(const Value& root) {
  if (root.kind != Kind::Dict) fail("the pickle holds {}, not a state dict (a dict of name -> tensor)", kind_name(root.kind));
  const std::vector<Value>& items = objs_[root.obj].items;
  std::map<std::string, size_t> position;
  for (size_t j = 0; j + 1 < items.size(); j += 2) {
    const std::string& name = str(items[j], "a state dict key");
    const Value& v = items[j + 1];
    if (v.kind != Kind::Tensor)
      throw BadModel(fmt::format("{}: state dict entry '{}' is {}, not a tensor; kiln reads state dicts of "
                                 "tensors (save model.state_dict())",
                                 what_, printable(name), kind_name(v.kind)));
    const PickledTensor& t = tensors_[(size_t)v.i];
    check_extent(name, t);
    auto [it, fresh] = position.emplace(name, out_.tensors.size());
    if (fresh) out_.tensors.emplace_back(name, t);
    else out_.tensors[it->second].second = t;
  }
  return std::move(out_);
}

std::vector<std::string> Unpickler::string_list(const Value& root) {
  std::vector<std::string> out;
  for (const Value& v : container(root, Kind::List, "the list of storage keys").items) out.push_back(str(v, "a storage key"));
  return out;
}

const Value* Unpickler::dict_get(const Value& dict, const std::string& key) {
  const std::vector<Value>& items = container(dict, Kind::Dict, "the pickle").items;
  for (size_t j = 0; j + 1 < items.size(); j += 2)
    if (items[j].kind == Kind::Str && objs_[items[j].obj].str == key) return &items[j + 1];
  return nullptr;
}

Value Unpickler::run() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= n_) fail("the pickle ends without STOP: it is truncated");
    const uint8_t op = p_[pos_++];
    switch (op) {
      case 0x80:  // PROTO
        if (take(1)[0] > 5) fail("pickle protocol {} is newer than 5", p_[pos_ - 1]);
        break;
      case 0x95:  // FRAME: a length, then the frame's opcodes inline
        take(8);
        break;
      case '.':  // STOP
        return top();
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP (or, like Python, the MARK when nothing was pushed after it)
        if (stack_.size() > mark_base()) stack_.pop_back();
        else pop_mark();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        stack_.push_back(top());
        break;
      case 'N':
        stack_.push_back(make(Kind::None));
        break;
      case 0x88:  // NEWTRUE
      case 0x89:  // NEWFALSE
        stack_.push_back(make_int(op == 0x88, Kind::Bool));
        break;
      case 'J':  // BININT
        stack_.push_back(make_int((int32_t)(uint32_t)take_le(4)));
        break;
      case 'K':  // BININT1
        stack_.push_back(make_int((int64_t)take_le(1)));
        break;
      case 'M':  // BININT2
        stack_.push_back(make_int((int64_t)take_le(2)));
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        uint64_t len = take_le(op == 0x8a ? 1 : 4);
        if (len > 8) fail("an integer of {} bytes is larger than any a state dict holds", len);
        uint64_t v = take_le((size_t)len);
        if (len > 0 && len < 8 && (v >> (8 * len - 1)) & 1) v |= ~(uint64_t)0 << (8 * len);  // sign-extend
        stack_.push_back(make_int((int64_t)v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        const uint8_t* q = take(8);
        uint64_t bits = 0;
        for (int j = 0; j < 8; ++j) bits = bits << 8 | q[j];
        Value v;
        v.kind = Kind::Float;
        std::memcpy(&v.f, &bits, 8);
        stack_.push_back(v);
        break;
      }
      case 'X':  // BINUNICODE
        stack_.push_back(make_str(Kind::Str, take_le(4)));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        stack_.push_back(make_str(Kind::Str, take_le(1)));
        break;
      case 0x8d:  // BINUNICODE8
        stack_.push_back(make_str(Kind::Str, take_le(8)));
        break;
      case 'T': {  // BINSTRING (Python 2 str)
        int32_t len = (int32_t)(uint32_t)take_le(4);
        if (len < 0) fail("a string has a negative length");
        stack_.push_back(make_str(Kind::Str, (size_t)len));
        break;
      }
      case 'U':  // SHORT_BINSTRING
        stack_.push_back(make_str(Kind::Str, take_le(1)));
        break;
      case 'B':  // BINBYTES
        stack_.push_back(make_str(Kind::Bytes, take_le(4)));
        break;
      case 'C':  // SHORT_BINBYTES
        stack_.push_back(make_str(Kind::Bytes, take_le(1)));
        break;
      case 0x8e:  // BINBYTES8
      case 0x96:  // BYTEARRAY8
        stack_.push_back(make_str(Kind::Bytes, take_le(8)));
        break;
      case ')':  // EMPTY_TUPLE
        stack_.push_back(make_tuple({}));
        break;
      case 't':  // TUPLE
        stack_.push_back(make_tuple(pop_mark()));
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87: {  // TUPLE3
        size_t k = op - 0x84u;
        std::vector<Value> items(k);
        for (size_t j = k; j-- > 0;) items[j] = pop();
        stack_.push_back(make_tuple(std::move(items)));
        break;
      }
      case ']':  // EMPTY_LIST
        stack_.push_back(make(Kind::List));
        break;
      case '}':  // EMPTY_DICT
        stack_.push_back(make(Kind::Dict));
        break;
      case 'l': {  // LIST
        std::vector<Value> items = pop_mark();
        Value v = make(Kind::List);
        objs_[v.obj].items = std::move(items);
        stack_.push_back(v);
        break;
      }
      case 'd': {  // DICT
        std::vector<Value> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        Value v = make(Kind::Dict);
        objs_[v.obj].items = std::move(items);
        stack_.push_back(v);
        break;
      }
      case 'a': {  // APPEND
        Value v = pop();
        container(top(), Kind::List, "APPEND").items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value> items = pop_mark();
        Object& list = container(top(), Kind::List, "APPENDS");
        list.items.insert(list.items.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        Value v = pop();
        Value k = pop();
        Object& dict = container(top(), Kind::Dict, "SETITEM");
        dict.items.push_back(k);
        dict.items.push_back(v);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        Object& dict = container(top(), Kind::Dict, "SETITEMS");
        dict.items.insert(dict.items.end(), items.begin(), items.end());
        break;
      }
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        uint32_t idx = (uint32_t)take_le(op == 'h' ? 1 : 4);
        auto it = memo_.find(idx);
        if (it == memo_.end()) fail("memo index {} is read but was never stored", idx);
        stack_.push_back(it->second);
        break;
      }
      case 'q':  // BINPUT
      case 'r':  // LONG_BINPUT
      {
        uint32_t idx = (uint32_t)take_le(op == 'q' ? 1 : 4);
        memo_[idx] = top();
        break;
      }
      case 0x94:  // MEMOIZE
        if (memo_.size() >= UINT32_MAX) fail("too many memo entries");
        memo_[(uint32_t)memo_.size()] = top();
        break;
      case 'c': {  // GLOBAL
        std::string module = take_line();
        std::string name = take_line();
        stack_.push_back(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value name = pop();
        Value module = pop();
        std::string m = str(module, "STACK_GLOBAL's module"), n = str(name, "STACK_GLOBAL's name");
        stack_.push_back(global(m, n));
        break;
      }
      case 'R': {  // REDUCE
        Value args = pop();
        Value callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: only an OrderedDict's attributes (a state dict's _metadata), which are dropped
        Value state = pop();
        Value& obj = top();
        if (obj.kind != Kind::Dict || state.kind != Kind::Dict)
          fail("BUILD sets the state of {} from {}; a state dict only sets a dict's attributes", kind_name(obj.kind),
               kind_name(state.kind));
        break;
      }
      case 'Q':  // BINPERSID
        stack_.push_back(persistent_load(pop()));
        break;
      case 'i': {  // INST: names its class inline
        std::string module = take_line();
        std::string name = take_line();
        global(module, name);  // refuses anything not on the list, by name
        fail("opcode INST builds an object of {}.{}; a state dict has none", printable(module), printable(name));
      }
      case 'o':     // OBJ
      case 0x81:    // NEWOBJ
      case 0x92:    // NEWOBJ_EX
        fail("opcode 0x{:02x} builds an object; a state dict has none", op);
      case 0x82:  // EXT1
      case 0x83:  // EXT2
      case 0x84:  // EXT4
        fail("opcode 0x{:02x} loads a global from the extension registry; refused", op);
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'g': case 'p':
      case 0x8f: case 0x90: case 0x91: case 0x97: case 0x98:
        fail("pickle opcode '{}' (0x{:02x}) is not one torch.save writes for a state dict",
             (op >= 0x20 && op < 0x7f) ? (char)op : '?', op);
      default:
        fail("unknown pickle opcode 0x{:02x}", op);
    }
  }
}

}  // namespace

PickledStateDict unpickle_state_dict(const char* data, size_t size, const std::string& what) {
  Unpickler u(data, size, what);
  return u.state_dict(u.run());
}

LegacyPickles unpickle_legacy(const char* data, size_t size, const std::string& what) {
  // The magic number and protocol version torch.save's legacy format starts with, as protocol 2 pickles.
  static const char magic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
  static const char version[] = "\x80\x02M\xe9\x03.";  // 1001
  const size_t nm = sizeof magic - 1, nv = sizeof version - 1;
  KILN_CHECK(size >= nm + nv && std::memcmp(data, magic, nm) == 0 && std::memcmp(data + nm, version, nv) == 0,
             BadModel, "{}: not a legacy torch.save file (magic number or protocol version 1001 missing)", what);
  size_t pos = nm + nv;
  LegacyPickles out;
  {
    Unpickler u(data + pos, size - pos, what);  // sys_info: {protocol_version, little_endian, type_sizes}
    Value info = u.run();
    const Value* le = u.dict_get(info, "little_endian");
    KILN_CHECK(!le || le->kind != Kind::Bool || le->i, Unsupported,
               "{} was saved on a big-endian machine; kiln reads little-endian checkpoints", what);
    pos += u.end();
  }
  {
    Unpickler u(data + pos, size - pos, what);
    u.legacy_ids = true;
    out.state = u.state_dict(u.run());
    pos += u.end();
  }
  {
    Unpickler u(data + pos, size - pos, what);
    out.keys = u.string_list(u.run());
    pos += u.end();
  }
  out.end = pos;
  return out;
}

}  // namespace kiln::exporting
