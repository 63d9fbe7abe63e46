// kiln.Session: one ONNX graph, loaded once, run many times with numpy feeds (onnxruntime's
// InferenceSession, with a dict out). Runs release the GIL, so threads run one session at once.
#include <memory>
#include <optional>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/session.h"

namespace kiln::python {

namespace {

Device parse_device(const std::string& name) {
  if (name == "cpu" || name.empty()) return Device{};
  if (name.rfind("cuda", 0) == 0) {
    Device d{DeviceType::Cuda, 0};
    if (name.size() > 5 && name[4] == ':') d.index = std::stoi(name.substr(5));
    return d;  // Session refuses it with Unsupported, saying what it has
  }
  throw BadInput("device '" + name + "' is not a device name; use \"cpu\"");
}

// An input or output as the graph declares it; shape entries are ints, dimension names or None.
py::dict info_dict(const TensorInfo& info) {
  py::dict d;
  d["name"] = info.name;
  d["type"] = std::string(dtype_name(info.dtype));
  py::object shape = py::none();
  if (info.has_rank) {
    py::list s;
    for (size_t i = 0; i < info.shape.size(); ++i) {
      if (info.shape[i] >= 0) s.append(info.shape[i]);
      else if (i < info.dim_names.size() && !info.dim_names[i].empty()) s.append(info.dim_names[i]);
      else s.append(py::none());
    }
    shape = s;
  }
  d["shape"] = shape;
  // A KV cache kept time-major (kv_cache_in_place): shape is [sequence, batch, heads, head_dim].
  d["time_major"] = info.time_major;
  // An input kiln added that feeds may leave out (cache_rows).
  d["optional"] = info.optional;
  return d;
}

class PySession {
 public:
  PySession(const std::string& path, SessionOptions options) {
    py::gil_scoped_release nogil;
    session_ = std::make_unique<Session>(path, options);
    inputs_ = session_->input_info();
    outputs_ = session_->output_info();
  }

  py::dict run(py::handle feeds_arg, std::optional<std::vector<std::string>> output_names) const {
    if (!py::isinstance<py::dict>(feeds_arg))
      throw BadInput("feeds must be a dict of input name -> array (the inputs are " + names(inputs_) + ")");
    NamedTensors feeds;
    for (auto [key, value] : py::reinterpret_borrow<py::dict>(feeds_arg)) {
      std::string name = py::str(key);
      DType want = DType::Undefined;
      for (const auto& in : inputs_)
        if (in.name == name) want = in.dtype;
      feeds[name] = to_tensor(value, "feed '" + name + "'", want);
    }
    NamedTensors out;
    {
      py::gil_scoped_release nogil;
      out = session_->run(feeds, output_names.value_or(std::vector<std::string>{}));
    }
    py::dict result;
    // In the order asked for, else the graph's order (a dict keeps it).
    std::vector<std::string> order = output_names.value_or(std::vector<std::string>{});
    if (order.empty())
      for (const auto& o : outputs_) order.push_back(o.name);
    for (const auto& name : order) {
      auto it = out.find(name);
      if (it != out.end()) result[py::str(name)] = to_numpy(it->second);
    }
    for (const auto& [name, t] : out)
      if (!result.contains(name)) result[py::str(name)] = to_numpy(t);
    return result;
  }

  py::list inputs() const { return infos(inputs_); }
  py::list outputs() const { return infos(outputs_); }
  const SessionOptions& options() const { return session_->options(); }

 private:
  static py::list infos(const std::vector<TensorInfo>& v) {
    py::list l;
    for (const auto& i : v) l.append(info_dict(i));
    return l;
  }
  static std::string names(const std::vector<TensorInfo>& v) {
    std::string s;
    for (const auto& i : v) s += (s.empty() ? "" : ", ") + i.name;
    return s;
  }

  std::unique_ptr<Session> session_;
  std::vector<TensorInfo> inputs_, outputs_;
};

}  // namespace

void bind_session(py::module_& m) {
  py::class_<PySession>(m, "Session", R"doc(An ONNX graph loaded once and run many times.

    s = kiln.Session("model.onnx", threads=2)
    out = s.run({"input_ids": ids, "attention_mask": mask})   # dict of numpy arrays
    logits = out["logits"]

Feeds that are C-contiguous numpy arrays of the input's type are read in place (no copy); others
are converted once. Outputs are numpy arrays over kiln's own buffers (no copy). run() releases the
GIL: several threads may run one session at once.)doc")
      .def(py::init([](py::handle path, std::optional<int> threads, int optimization_level,
                       std::optional<size_t> max_tensor_bytes, int64_t run_timeout_ms,
                       std::optional<uint64_t> max_model_bytes, std::optional<int> max_subgraph_depth,
                       const std::string& device, bool kv_cache_in_place, py::handle fixed_inputs) {
             SessionOptions o;
             o.threads = threads.value_or(0);
             o.optimization_level = optimization_level;
             if (max_tensor_bytes) o.max_tensor_bytes = *max_tensor_bytes;
             o.run_timeout_ms = run_timeout_ms;
             if (max_model_bytes) o.max_model_bytes = *max_model_bytes;
             if (max_subgraph_depth) o.max_subgraph_depth = *max_subgraph_depth;
             o.device = parse_device(device);
             o.kv_cache_in_place = kv_cache_in_place;
             if (!fixed_inputs.is_none()) {
               if (!py::isinstance<py::dict>(fixed_inputs))
                 throw BadInput("fixed_inputs must be a dict of input name -> array");
               // Copied: the session keeps them, the arrays may change or go.
               for (auto [key, value] : py::reinterpret_borrow<py::dict>(fixed_inputs)) {
                 const std::string name = py::str(key);
                 o.fixed_inputs[name] = to_tensor(value, "fixed input '" + name + "'").clone();
               }
             }
             return std::make_unique<PySession>(path_arg(path), o);
           }),
           py::arg("path"), py::kw_only(), py::arg("threads") = py::none(), py::arg("optimization_level") = 2,
           py::arg("max_tensor_bytes") = py::none(), py::arg("run_timeout_ms") = 0,
           py::arg("max_model_bytes") = py::none(), py::arg("max_subgraph_depth") = py::none(),
           py::arg("device") = "cpu", py::arg("kv_cache_in_place") = false, py::arg("fixed_inputs") = py::none(),
           "Loads a .onnx file (external data memory-mapped). threads: this session's (None = one per core).\n"
           "kv_cache_in_place: a decoder step's KV caches grow in place (inputs/outputs then say time_major:\n"
           "[sequence, batch, heads, head_dim]). fixed_inputs: {name: array} given once for every run; they\n"
           "leave the inputs, and an If on one keeps only its branch (a merged decoder's use_cache_branch).")
      .def("run", &PySession::run, py::arg("feeds"), py::arg("outputs") = py::none(),
           "Runs the graph: feeds {name: array}; outputs: the names wanted (None = all). Returns {name: array}.")
      .def_property_readonly("inputs", &PySession::inputs,
                             "The graph's inputs: [{'name', 'type' (numpy's name), 'shape' (ints, dim names, None)}].")
      .def_property_readonly("outputs", &PySession::outputs, "The graph's outputs, as inputs describes them.")
      .def_property_readonly("threads", [](const PySession& s) { return s.options().threads; })
      .def("__repr__", [](const PySession& s) {
        std::string r = "kiln.Session(inputs=[";
        py::list in = s.inputs();
        for (size_t i = 0; i < in.size(); ++i) r += (i ? ", " : "") + py::str(in[i]["name"]).cast<std::string>();
        return r + "])";
      });
}

}  // namespace kiln::python
