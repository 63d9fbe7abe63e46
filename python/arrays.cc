// numpy arrays <-> kiln::Tensor without copies: an input array's memory is wrapped
// (Tensor::wrap, the array kept alive by the tensor), an output tensor's buffer is handed to numpy
// (a capsule holding the tensor is the array's base).
#include <Python.h>

#include <memory>
#include <utility>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/half.h"

namespace kiln::python {

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::F32: return py::dtype::of<float>();
    case DType::F64: return py::dtype::of<double>();
    case DType::F16: return py::dtype("float16");
    case DType::I8: return py::dtype::of<int8_t>();
    case DType::U8: return py::dtype::of<uint8_t>();
    case DType::I16: return py::dtype::of<int16_t>();
    case DType::U16: return py::dtype::of<uint16_t>();
    case DType::I32: return py::dtype::of<int32_t>();
    case DType::U32: return py::dtype::of<uint32_t>();
    case DType::I64: return py::dtype::of<int64_t>();
    case DType::U64: return py::dtype::of<uint64_t>();
    case DType::Bool: return py::dtype::of<bool>();
    case DType::String: return py::dtype("O");
    case DType::BF16: return py::dtype::of<float>();  // numpy has no bfloat16: to_numpy converts
    case DType::Undefined: break;
  }
  throw BadInput("a tensor with no element type has no numpy dtype");
}

DType kiln_dtype(const py::dtype& d) {
  // By kind and size: numpy's own names vary by platform (long vs long long).
  const char kind = d.kind();
  const ssize_t size = d.itemsize();
  switch (kind) {
    case 'f': return size == 4 ? DType::F32 : size == 8 ? DType::F64 : size == 2 ? DType::F16 : DType::Undefined;
    case 'i':
      return size == 8   ? DType::I64
             : size == 4 ? DType::I32
             : size == 2 ? DType::I16
             : size == 1 ? DType::I8
                         : DType::Undefined;
    case 'u':
      return size == 8   ? DType::U64
             : size == 4 ? DType::U32
             : size == 2 ? DType::U16
             : size == 1 ? DType::U8
                         : DType::Undefined;
    case 'b': return DType::Bool;
    default: return DType::Undefined;
  }
}

namespace {

// Holds a reference to a Python object for a kiln buffer; the last tensor using the bytes drops it,
// on whatever thread that happens (taking the GIL for it).
std::shared_ptr<const void> keep_alive(py::object o) {
  PyObject* p = o.release().ptr();
  return std::shared_ptr<const void>(p, [](PyObject* q) {
    if (!Py_IsInitialized()) return;  // the interpreter is gone; so is the object's memory
    py::gil_scoped_acquire gil;
    Py_DECREF(q);
  });
}

Tensor strings_to_tensor(const py::array& a) {
  Shape shape(a.shape(), a.shape() + a.ndim());
  Tensor t(DType::String, shape);
  std::string* out = t.data<std::string>();
  py::list flat = a.attr("ravel")().attr("tolist")();
  for (size_t i = 0; i < flat.size(); ++i) {
    py::handle v = flat[i];
    if (py::isinstance<py::bytes>(v)) out[i] = v.cast<std::string>();
    else out[i] = py::str(v).cast<std::string>();
  }
  return t;
}

}  // namespace

Tensor to_tensor(py::handle value, const std::string& what, DType want) {
  py::module_ np = py::module_::import("numpy");
  py::array a;
  if (py::isinstance<py::array>(value)) {
    a = py::reinterpret_borrow<py::array>(value);
  } else {
    try {
      a = want == DType::Undefined || want == DType::BF16 ? np.attr("asarray")(value)
                                                          : np.attr("asarray")(value, numpy_dtype(want));
    } catch (py::error_already_set& e) {
      throw BadInput(what + ": cannot make an array of it (" + std::string(py::str(e.value())) + ")");
    }
  }
  const char kind = a.dtype().kind();
  if (kind == 'U' || kind == 'S' || kind == 'O') {
    if (want != DType::Undefined && want != DType::String)
      throw BadInput(what + " holds strings (numpy dtype " + std::string(py::str(a.dtype())) +
                     ") but the model takes " + std::string(dtype_name(want)));
    return strings_to_tensor(a);
  }
  DType have = kiln_dtype(a.dtype());
  DType target = want == DType::Undefined || want == DType::String ? have : want;
  if (target == DType::BF16) target = have;  // kiln's Session says what it takes; numpy cannot make bf16
  if (target == DType::Undefined)
    throw BadInput(what + " has numpy dtype " + std::string(py::str(a.dtype())) +
                   ", which kiln has no tensor type for; pass float32/float16/float64, (u)int8-64 or bool");
  const bool contiguous = (a.flags() & py::array::c_style) != 0;
  const bool aligned = (a.flags() & 0x0100 /* NPY_ARRAY_ALIGNED */) != 0;
  if (have == DType::Undefined)
    throw BadInput(what + " has numpy dtype " + std::string(py::str(a.dtype())) +
                   ", which kiln has no tensor type for; the model takes " + std::string(dtype_name(target)));
  if (target != have && !np.attr("can_cast")(a.dtype(), numpy_dtype(target), "same_kind").cast<bool>())
    throw BadInput(what + " is " + std::string(dtype_name(have)) + " but the model takes " +
                   std::string(dtype_name(target)) +
                   "; convert it first (numpy would not cast it without losing its kind: " + "astype(" +
                   std::string(dtype_name(target)) + ") if that is meant)");
  if (target != have || !contiguous || !aligned) {
    // One conversion by numpy; from here on the new array is the tensor's memory.
    try {
      a = np.attr("ascontiguousarray")(a, numpy_dtype(target));
    } catch (py::error_already_set& e) {
      throw BadInput(what + ": cannot convert it to " + std::string(dtype_name(target)) + " (" +
                     std::string(py::str(e.value())) + ")");
    }
  }
  Shape shape(a.shape(), a.shape() + a.ndim());
  void* data = const_cast<void*>(a.data());
  return Tensor::wrap(target, std::move(shape), data, keep_alive(a));
}

py::array to_numpy(const Tensor& t0) {
  if (t0.dtype() == DType::String) {
    py::list values;
    const std::string* s = t0.data<std::string>();
    for (int64_t i = 0; i < t0.numel(); ++i) values.append(py::str(s[i]));
    py::array flat = py::module_::import("numpy").attr("array")(values, py::dtype("O"));
    return flat.attr("reshape")(py::cast(std::vector<int64_t>(t0.shape()))).cast<py::array>();
  }
  const Tensor t = t0.dtype() == DType::BF16 ? t0.cast(DType::F32) : t0;
  py::dtype dt = numpy_dtype(t.dtype());
  std::vector<ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.numel() == 0 || t.raw() == nullptr) return py::array(dt, shape);
  std::vector<ssize_t> strides(shape.size());
  ssize_t step = (ssize_t)dtype_size(t.dtype());
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape[i];
  }
  auto* keep = new Tensor(t);
  py::capsule base(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  py::array a(dt, shape, strides, keep->raw(), base);
  if (t.is_view()) a.attr("flags").attr("writeable") = false;
  return a;
}

std::string path_arg(py::handle p) {
  py::object s = py::module_::import("os").attr("fspath")(p);
  if (py::isinstance<py::bytes>(s)) return s.cast<std::string>();
  return s.cast<std::string>();
}

void bind_arrays(py::module_& m) {
  // For tests and the curious: the address of the memory a kiln tensor made from `array` reads
  // (equal to array.ctypes.data when nothing was copied), and the element type kiln sees.
  m.def(
      "_tensor_address",
      [](py::handle array) {
        Tensor t = to_tensor(array, "array");
        return py::make_tuple(reinterpret_cast<uintptr_t>(t.raw()), std::string(dtype_name(t.dtype())));
      },
      py::arg("array"));
  m.def(
      "_round_trip", [](py::handle array) { return to_numpy(to_tensor(array, "array")); }, py::arg("array"),
      "An array through a kiln tensor and back (no copies for C-contiguous arrays of kiln's types).");
}

}  // namespace kiln::python
