// kiln._kiln: kiln's public C++ API (include/kiln) for Python. The package kiln (python/kiln)
// re-exports it; docs/python.md describes it.
#include "bindings.h"

PYBIND11_MODULE(_kiln, m) {
  m.doc() = "kiln: run, quantize and export ONNX transformer models (C++ core, numpy in and out)";
  kiln::python::bind_errors(m);
  kiln::python::bind_arrays(m);
  kiln::python::bind_session(m);
  kiln::python::bind_tokenizer(m);
  kiln::python::bind_pipeline(m);
  kiln::python::bind_tools(m);
}
