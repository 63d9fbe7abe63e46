// kiln's error classes as Python exceptions, one hierarchy mirroring include/kiln/error.h:
// kiln.Error (a RuntimeError) and its kinds. Each kind also derives from the built-in exception a
// Python caller would catch for it (BadInput is a ValueError, IoError an OSError, Unsupported a
// NotImplementedError). The message is kiln's, unchanged; `exit_code` is the kiln command's.
#include <Python.h>

#include "bindings.h"
#include "kiln/error.h"

namespace kiln::python {

namespace {

PyObject* g_error = nullptr;
PyObject* g_bad_model = nullptr;
PyObject* g_bad_input = nullptr;
PyObject* g_unsupported = nullptr;
PyObject* g_io = nullptr;
PyObject* g_internal = nullptr;

PyObject* make_class(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  std::string full = std::string("kiln.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // the module holds a reference; so does the global
  return cls;
}

void raise(PyObject* cls, const Error& e) {
  py::object exc = py::reinterpret_steal<py::object>(PyObject_CallFunction(cls, "s", e.what()));
  if (!exc) return;  // the call set its own exception
  exc.attr("exit_code") = e.exit_code();
  PyErr_SetObject(cls, exc.ptr());
}

}  // namespace

void bind_errors(py::module_& m) {
  py::handle base_runtime(PyExc_RuntimeError);
  g_error = make_class(m, "Error", py::make_tuple(base_runtime),
                       "A kiln error; .exit_code is what the kiln command exits with for it.");
  py::handle error(g_error);
  g_bad_model = make_class(m, "BadModel", py::make_tuple(error),
                           "A model file or folder that is malformed or does not fit what was asked of it.");
  g_bad_input = make_class(m, "BadInput", py::make_tuple(error, py::handle(PyExc_ValueError)),
                           "Inputs, feeds, options that are wrong (also: a run past its limits).");
  g_unsupported = make_class(m, "Unsupported", py::make_tuple(error, py::handle(PyExc_NotImplementedError)),
                             "Valid, but kiln does not do it (an op, an architecture, a device).");
  g_io = make_class(m, "IoError", py::make_tuple(error, py::handle(PyExc_OSError)),
                    "A file that cannot be read or written.");
  g_internal = make_class(m, "InternalError", py::make_tuple(error), "A bug in kiln.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.kind()) {
        case ErrorKind::BadModel: raise(g_bad_model, e); return;
        case ErrorKind::BadInput: raise(g_bad_input, e); return;
        case ErrorKind::Unsupported: raise(g_unsupported, e); return;
        case ErrorKind::Io: raise(g_io, e); return;
        case ErrorKind::Internal: raise(g_internal, e); return;
      }
      raise(g_error, e);
    }
  });
}

}  // namespace kiln::python
