// kiln.quantize and kiln.export: `kiln quantize` and `kiln export` as functions (include/kiln/
// quantize.h, export.h). Both release the GIL while they work and return what they did as a dict.
#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/export.h"
#include "kiln/quantize.h"

namespace kiln::python {

namespace {

// A Python value as the string quantize::set_option parses: booleans true/false, lists comma-joined.
std::string option_string(py::handle v) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    std::string s;
    for (auto x : v) s += (s.empty() ? "" : ",") + py::str(x).cast<std::string>();
    return s;
  }
  return py::str(v);
}

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

}  // namespace

void bind_tools(py::module_& m) {
  m.def(
      "quantize",
      [](py::handle src, py::handle dst, const std::string& preset, bool is_static, py::object progress,
         const py::kwargs& settings) {
        quantize::Options o = preset.empty() ? quantize::Options{} : quantize::preset_options(preset, is_static);
        if (preset.empty()) o.is_static = is_static;
        for (auto [k, v] : settings) quantize::set_option(o, py::str(k), option_string(v));
        quantize::validate_options(o);
        const std::string in = path_arg(src), out = path_arg(dst);
        quantize::ProgressFn report_progress;
        if (!progress.is_none()) {
          auto held = std::shared_ptr<py::object>(new py::object(progress), [](py::object* p) {
            py::gil_scoped_acquire gil;
            delete p;
          });
          report_progress = [held](const std::string& line) {
            py::gil_scoped_acquire gil;
            (*held)(line);
          };
        }
        std::string json;
        {
          py::gil_scoped_release nogil;
          json = quantize::report_json(quantize::quantize_path(in, out, o, report_progress));
        }
        return json_loads(json);
      },
      py::arg("src"), py::arg("dst"), py::kw_only(), py::arg("preset") = "avx512_vnni", py::arg("static") = false,
      py::arg("progress") = py::none(),
      R"doc(INT8 quantization of a .onnx file or a model folder (`kiln quantize`), Optimum's presets.

    report = kiln.quantize("model_dir", "model_dir-int8", preset="avx512_vnni", per_channel=True)

preset: avx512_vnni, avx512, avx2, arm64, tensorrt ("" = kiln's defaults); static: calibrated
static quantization (calibration_data=...). Further settings by their kiln::quantize::set_option
names (per_channel, reduce_range, weight_type, format, ops, nodes_to_exclude, ...), values as
Python values. Returns the report `kiln quantize --json` prints, as a dict.)doc");
  m.def("quantize_presets", &quantize::preset_names, "Optimum's preset names quantize() takes.");
  m.def("quantize_options", &quantize::option_names, "The setting names quantize() takes as keywords.");

  m.def(
      "export",
      [](py::handle src, py::handle out_dir, const std::string& task, int64_t opset, bool random_weights, uint64_t seed,
         bool external_data, bool merged, const std::string& dtype) {
        ExportOptions o;
        o.task = task, o.opset = opset, o.random_weights = random_weights, o.seed = seed;
        o.external_data = external_data, o.merged = merged, o.dtype = dtype;
        const std::string in = path_arg(src), out = path_arg(out_dir);
        ExportResult r;
        {
          py::gil_scoped_release nogil;
          r = export_model(in, out, o);
        }
        py::dict d;
        d["files"] = r.files, d["file_bytes"] = r.file_bytes, d["parameters"] = r.parameters;
        d["model_type"] = r.model_type, d["task"] = r.task, d["seconds"] = r.seconds;
        return d;
      },
      py::arg("checkpoint_dir"), py::arg("out_dir"), py::kw_only(), py::arg("task") = "auto", py::arg("opset") = 17,
      py::arg("random_weights") = false, py::arg("seed") = 1234, py::arg("external_data") = false,
      py::arg("merged") = false, py::arg("dtype") = "fp32",
      R"doc(A Hugging Face checkpoint folder to an ONNX model folder in Optimum's layout (`kiln export`).

    kiln.export("bert-checkpoint", "bert-onnx", task="text-classification")

Every graph is run once before out_dir appears; nothing is left behind on failure. Returns
{'files', 'file_bytes', 'parameters', 'model_type', 'task', 'seconds'}.)doc");
  m.def("export_architectures", &supported_architectures, "The config.json model_type values export() takes.");
  m.def("export_tasks", &architecture_tasks, py::arg("model_type"), "The tasks a model_type exports to.");
}

}  // namespace kiln::python
