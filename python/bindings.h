// The Python module's parts (python/*.cc), each adding its classes and functions to the module, and
// the numpy <-> kiln::Tensor conversions they share. Only include/kiln is used: the module is a
// client of libkiln like any other program.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "kiln/tensor.h"

namespace kiln::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_arrays(py::module_& m);
void bind_session(py::module_& m);
void bind_tokenizer(py::module_& m);
void bind_pipeline(py::module_& m);
void bind_tools(py::module_& m);

// The numpy dtype of a kiln element type, and back (Undefined when kiln has none for it).
py::dtype numpy_dtype(DType t);
DType kiln_dtype(const py::dtype& d);

// A kiln tensor over an array's memory: no copy when `value` is a C-contiguous, aligned numpy
// array of a type kiln has (and of `want`, when given). Anything else (a list, a strided view,
// another type) is converted once by numpy into a new array, which the tensor then owns. The
// tensor keeps the array alive. Throws kiln::BadInput naming `what` when it cannot be converted.
Tensor to_tensor(py::handle value, const std::string& what, DType want = DType::Undefined);

// A numpy array over a kiln tensor's buffer: no copy; the array keeps the buffer alive (a capsule
// holding the tensor is its base). Views of memory kiln does not own (Tensor::is_view) come back
// read-only. Strings become an object array of str and bfloat16 becomes float32 (numpy has no
// bfloat16): those two are copies.
py::array to_numpy(const Tensor& t);

// A path argument: str or os.PathLike.
std::string path_arg(py::handle p);

}  // namespace kiln::python
