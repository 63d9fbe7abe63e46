// kiln.pipeline's arguments as kiln's types (pipeline_args.h).
#include "pipeline_args.h"

#include <algorithm>
#include <memory>

#include <pybind11/stl.h>

#include "kiln/error.h"

namespace kiln::python {

namespace {

// A Python callable for on_token, held so that copies of the std::function need no GIL.
TokenCallback token_callback(py::object fn) {
  auto held = std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  return [held](size_t input, size_t sequence, int64_t token) {
    py::gil_scoped_acquire gil;
    (*held)(input, sequence, token);
  };
}

}  // namespace

bool is_generation_task(const std::string& t) {
  return t == "text2text-generation" || t == "summarization" || t == "text-generation" || t == "translation" ||
         t.rfind("translation_", 0) == 0;
}

namespace {

// A Python value as GenerationOptions::set takes it: true/false, a number, ids "1,2", sequences "5,6;7".
std::string setting_text(py::handle v) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::str>(v) || !py::isinstance<py::sequence>(v)) return py::str(v).cast<std::string>();
  std::string s;
  for (py::handle item : v.cast<py::sequence>()) {
    const bool nested = py::isinstance<py::sequence>(item) && !py::isinstance<py::str>(item);
    s += (s.empty() ? "" : (nested ? ";" : ",")) + setting_text(item);
  }
  return s;
}

std::string joined_names() {
  std::string s;
  for (const auto& n : GenerationOptions::names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

bool set_generation(GenerationOptions& g, const std::string& name, py::handle v) {
  const auto& names = GenerationOptions::names();
  if (name != "eos_token_ids" && std::find(names.begin(), names.end(), name) == names.end()) return false;
  if (!v.is_none()) g.set(name, setting_text(v));  // None: not set (the model's value stays)
  return true;
}

const std::string kGenerationNames = joined_names();

PipelineOptions parse_options(const std::string& task, const py::kwargs& kw) {
  PipelineOptions o;
  const bool generation = is_generation_task(task);
  for (auto [k, v] : kw) {
    const std::string name = py::str(k);
    if (generation && set_generation(o.generation, name, v)) continue;
    if (name == "device") o.device = v.cast<std::string>();
    else if (name == "threads") o.threads = v.is_none() ? 0 : v.cast<int>();
    else if (name == "max_tensor_bytes") o.max_tensor_bytes = v.cast<size_t>();
    else if (name == "run_timeout_ms") o.run_timeout_ms = v.cast<int64_t>();
    else if (name == "max_model_bytes") o.max_model_bytes = v.cast<uint64_t>();
    else if (name == "max_subgraph_depth") o.max_subgraph_depth = v.cast<int>();
    else if (name == "file") o.file = v.cast<std::string>();
    else if (name == "batch_size") o.batch_size = v.cast<size_t>();
    else if (name == "truncation") o.truncation = v.cast<bool>();
    else if (name == "max_length") o.max_length = opt<size_t>(v);
    else if (name == "top_k") o.top_k = opt<int>(v);
    else if (name == "function_to_apply") o.function_to_apply = v.cast<std::string>();
    else if (name == "aggregation_strategy") o.aggregation_strategy = v.cast<std::string>();
    else if (name == "doc_stride") o.doc_stride = v.cast<size_t>();
    else if (name == "max_answer_length") o.max_answer_length = v.cast<size_t>();
    else if (name == "max_seq_length") o.max_seq_length = v.cast<size_t>();
    else if (name == "handle_impossible_answer") o.handle_impossible_answer = v.cast<bool>();
    else if (name == "pooling") o.pooling = v.cast<std::string>();
    else if (name == "normalize") o.normalize = v.cast<bool>();
    else if (name == "on_token")
      o.on_token = v.is_none() ? TokenCallback() : token_callback(py::reinterpret_borrow<py::object>(v));
    else
      throw BadInput(
          "pipeline() has no option '" + name +
          "'; it takes device, threads, max_tensor_bytes, run_timeout_ms, max_model_bytes, max_subgraph_depth, "
          "file, batch_size, truncation, max_length, top_k, function_to_apply, aggregation_strategy, "
          "doc_stride, max_answer_length, max_seq_length, handle_impossible_answer, pooling, normalize, "
          "on_token" +
          (generation ? std::string(", and the generation settings ") + kGenerationNames : std::string()));
  }
  return o;
}

bool is_ids(py::handle v) {
  if (py::isinstance<py::array>(v)) {
    auto a = py::reinterpret_borrow<py::array>(v);
    char k = a.dtype().kind();
    return a.ndim() == 1 && (k == 'i' || k == 'u');
  }
  if (!py::isinstance<py::list>(v) && !py::isinstance<py::tuple>(v)) return false;
  py::sequence s = py::reinterpret_borrow<py::sequence>(v);
  if (s.size() == 0) return false;
  for (auto x : s)
    if (!py::isinstance<py::int_>(x) && !py::hasattr(x, "__index__")) return false;
  return !py::isinstance<py::str>(s[0]);
}

PipelineInput input_of(py::handle v) {
  if (py::isinstance<py::str>(v)) return PipelineInput(v.cast<std::string>());
  if (is_ids(v)) return PipelineInput::from_ids(v.cast<std::vector<int64_t>>());
  if (py::isinstance<py::dict>(v)) {
    auto d = py::reinterpret_borrow<py::dict>(v);
    PipelineInput in;
    if (d.contains("question") || d.contains("context")) {
      if (!d.contains("question") || !d.contains("context"))
        throw BadInput("a question-answering input needs both 'question' and 'context'");
      in.text = py::str(d["question"]);
      in.text_pair = py::str(d["context"]).cast<std::string>();
      return in;
    }
    if (!d.contains("text")) throw BadInput("a dict input needs 'text' (and optionally 'text_pair')");
    in.text = py::str(d["text"]);
    if (d.contains("text_pair") && !d["text_pair"].is_none())
      in.text_pair = py::str(d["text_pair"]).cast<std::string>();
    if (d.contains("ids") && !d["ids"].is_none()) in.ids = d["ids"].cast<std::vector<int64_t>>();
    return in;
  }
  throw BadInput(std::string("a pipeline input is a str, a dict (text, text_pair / question, context) or a list of "
                             "token ids; got ") +
                 std::string(py::str(py::type::of(v).attr("__name__"))));
}

}  // namespace kiln::python
