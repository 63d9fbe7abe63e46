// kiln.pipeline(task, model_dir, **options): transformers' pipeline() over kiln::pipeline(). The
// returned object is called on a text, a list of texts (or dicts, or token ids) and gives
// transformers' result shapes as Python dicts and lists; generation settings may also be given per
// call. Calls release the GIL.
#include <memory>
#include <optional>
#include <set>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/model_folder.h"
#include "kiln/pipeline.h"

namespace kiln::python {

namespace {

enum class Kind { Classify, Tag, Answer, Embed, Fill, Generate };

bool is_generation_task(const std::string& t) {
  return t == "text2text-generation" || t == "summarization" || t == "text-generation" || t == "translation" ||
         t.rfind("translation_", 0) == 0;
}

Kind kind_of(const std::string& t) {
  if (t == "text-classification" || t == "sentiment-analysis") return Kind::Classify;
  if (t == "token-classification" || t == "ner") return Kind::Tag;
  if (t == "question-answering") return Kind::Answer;
  if (t == "feature-extraction") return Kind::Embed;
  if (t == "fill-mask") return Kind::Fill;
  return Kind::Generate;
}

template <typename T>
std::optional<T> opt(py::handle v) {
  if (v.is_none()) return std::nullopt;
  return v.cast<T>();
}

// One generation setting by its transformers name into `g`; false when `name` is not one.
bool set_generation(GenerationOptions& g, const std::string& name, py::handle v) {
  if (name == "max_new_tokens") g.max_new_tokens = opt<int64_t>(v);
  else if (name == "max_length") g.max_length = opt<int64_t>(v);
  else if (name == "min_new_tokens") g.min_new_tokens = opt<int64_t>(v);
  else if (name == "min_length") g.min_length = opt<int64_t>(v);
  else if (name == "num_beams") g.num_beams = opt<int>(v);
  else if (name == "num_return_sequences") g.num_return_sequences = opt<int>(v);
  else if (name == "top_k") g.top_k = opt<int>(v);
  else if (name == "no_repeat_ngram_size") g.no_repeat_ngram_size = opt<int>(v);
  else if (name == "do_sample") g.do_sample = opt<bool>(v);
  else if (name == "early_stopping") g.early_stopping = opt<bool>(v);
  else if (name == "use_cache") g.use_cache = opt<bool>(v);
  else if (name == "temperature") g.temperature = opt<float>(v);
  else if (name == "top_p") g.top_p = opt<float>(v);
  else if (name == "repetition_penalty") g.repetition_penalty = opt<float>(v);
  else if (name == "length_penalty") g.length_penalty = opt<float>(v);
  else if (name == "bad_words_ids") g.bad_words_ids = opt<std::vector<std::vector<int64_t>>>(v);
  else if (name == "forced_bos_token_id") g.forced_bos_token_id = opt<int64_t>(v);
  else if (name == "forced_eos_token_id") g.forced_eos_token_id = opt<int64_t>(v);
  else if (name == "pad_token_id") g.pad_token_id = opt<int64_t>(v);
  else if (name == "decoder_start_token_id") g.decoder_start_token_id = opt<int64_t>(v);
  else if (name == "seed") g.seed = opt<uint64_t>(v);
  else if (name == "eos_token_id" || name == "eos_token_ids") {
    if (v.is_none()) g.eos_token_ids.reset();
    else if (py::isinstance<py::int_>(v)) g.eos_token_ids = std::vector<int64_t>{v.cast<int64_t>()};
    else g.eos_token_ids = v.cast<std::vector<int64_t>>();
  } else return false;
  return true;
}

const char* kGenerationNames =
    "max_new_tokens, max_length, min_new_tokens, min_length, num_beams, num_return_sequences, do_sample, "
    "temperature, top_k, top_p, repetition_penalty, no_repeat_ngram_size, length_penalty, early_stopping, "
    "bad_words_ids, eos_token_id, pad_token_id, decoder_start_token_id, forced_bos_token_id, forced_eos_token_id, "
    "use_cache, seed";

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

py::dict label_dict(const LabelScore& l) {
  py::dict d;
  d["label"] = l.label, d["score"] = l.score;
  return d;
}

py::list entities(const std::vector<TokenEntity>& v, bool grouped) {
  py::list l;
  for (const auto& e : v) {
    py::dict d;
    d[grouped ? "entity_group" : "entity"] = e.entity;
    d["score"] = e.score;
    if (!grouped) d["index"] = e.index;
    d["word"] = e.word, d["start"] = e.start, d["end"] = e.end;
    l.append(d);
  }
  return l;
}

py::dict answer_dict(const Answer& a) {
  py::dict d;
  d["score"] = a.score, d["start"] = a.start, d["end"] = a.end, d["answer"] = a.answer;
  return d;
}

// feature-extraction: one input's vectors as a float32 array (tokens x hidden, or hidden when
// pooled), over the vectors' own memory.
py::array embedding(std::vector<std::vector<float>>&& rows, bool pooled) {
  size_t width = rows.empty() ? 0 : rows[0].size();
  auto* flat = new std::vector<float>();
  flat->reserve(rows.size() * width);
  for (auto& r : rows) flat->insert(flat->end(), r.begin(), r.end());
  py::capsule base(flat, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  if (pooled && rows.size() == 1) return py::array_t<float>(std::vector<ssize_t>{(ssize_t)width}, flat->data(), base);
  return py::array_t<float>({(ssize_t)rows.size(), (ssize_t)width}, flat->data(), base);
}

py::list fills(const std::vector<std::vector<MaskFill>>& masks) {
  py::list per_mask;
  for (const auto& cands : masks) {
    py::list l;
    for (const auto& c : cands) {
      py::dict d;
      d["score"] = c.score, d["token"] = c.token, d["token_str"] = c.token_str, d["sequence"] = c.sequence;
      l.append(d);
    }
    per_mask.append(l);
  }
  if (masks.size() == 1) return per_mask[0].cast<py::list>();  // transformers: one mask, one list of candidates
  return per_mask;
}

std::string text_key(const std::string& task) {
  if (task == "summarization") return "summary_text";
  if (task == "translation" || task.rfind("translation_", 0) == 0) return "translation_text";
  return "generated_text";
}

class PyPipeline {
 public:
  PyPipeline(std::unique_ptr<Pipeline> p, PipelineOptions o)
      : p_(std::move(p)), options_(std::move(o)), kind_(kind_of(p_->task())) {}

  py::object call(py::handle inputs, const py::kwargs& kw) {
    // Per call: generation settings, return_tensors; top_k (classification); question/context.
    GenerationOptions overrides;
    bool return_tensors = false;
    std::optional<int> top_k = options_.top_k;
    py::object question = py::none(), context = py::none();
    for (auto [k, v] : kw) {
      const std::string name = py::str(k);
      if (name == "return_tensors") return_tensors = v.cast<bool>();
      else if (kind_ == Kind::Generate && set_generation(overrides, name, v)) continue;
      else if (kind_ == Kind::Classify && name == "top_k") top_k = opt<int>(v);
      else if (kind_ == Kind::Answer && name == "question") question = py::reinterpret_borrow<py::object>(v);
      else if (kind_ == Kind::Answer && name == "context") context = py::reinterpret_borrow<py::object>(v);
      else
        throw BadInput("a " + p_->task() + " pipeline call takes no '" + name + "'" +
                       (kind_ == Kind::Generate
                            ? std::string("; per call it takes return_tensors and ") + kGenerationNames
                            : std::string("; set options when opening it: kiln.pipeline(task, dir, ") + name + "=...)"));
    }
    bool single = false;
    std::vector<PipelineInput> in;
    if (inputs.is_none() && !question.is_none()) {  // qa(question=..., context=...)
      py::dict d;
      d["question"] = question, d["context"] = context;
      in.push_back(input_of(d)), single = true;
    } else if (py::isinstance<py::str>(inputs) || py::isinstance<py::dict>(inputs) || is_ids(inputs)) {
      in.push_back(input_of(inputs)), single = true;
    } else if (py::isinstance<py::array>(inputs) && py::reinterpret_borrow<py::array>(inputs).ndim() == 2) {
      for (auto row : inputs) in.push_back(input_of(row));
    } else if (py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) {
      for (auto v : inputs) in.push_back(input_of(v));
    } else {
      in.push_back(input_of(inputs)), single = true;  // raises, naming the type
    }
    switch (kind_) {
      case Kind::Classify: {
        std::vector<std::vector<LabelScore>> r;
        {
          py::gil_scoped_release nogil;
          r = p_->classify(in);
        }
        py::list out;
        for (const auto& labels : r) {
          if (!top_k) {
            out.append(label_dict(labels.at(0)));
            continue;
          }
          py::list l;
          for (size_t i = 0; i < labels.size() && (int)i < *top_k; ++i) l.append(label_dict(labels[i]));
          out.append(l);
        }
        return single && top_k ? py::object(out[0]) : py::object(out);  // str in: [best] or the top_k list
      }
      case Kind::Tag: {
        std::vector<std::vector<TokenEntity>> r;
        {
          py::gil_scoped_release nogil;
          r = p_->tag(in);
        }
        const bool grouped = options_.aggregation_strategy != "none" && !options_.aggregation_strategy.empty();
        py::list out;
        for (const auto& e : r) out.append(entities(e, grouped));
        return single ? py::object(out[0]) : py::object(out);
      }
      case Kind::Answer: {
        std::vector<Answer> r;
        {
          py::gil_scoped_release nogil;
          r = p_->answer(in);
        }
        py::list out;
        for (const auto& a : r) out.append(answer_dict(a));
        return single ? py::object(out[0]) : py::object(out);
      }
      case Kind::Embed: {
        std::vector<std::vector<std::vector<float>>> r;
        {
          py::gil_scoped_release nogil;
          r = p_->embed(in);
        }
        const bool pooled = options_.pooling != "none" && !options_.pooling.empty();
        py::list out;
        for (auto& v : r) out.append(embedding(std::move(v), pooled));
        return single ? py::object(out[0]) : py::object(out);
      }
      case Kind::Fill: {
        std::vector<std::vector<std::vector<MaskFill>>> r;
        {
          py::gil_scoped_release nogil;
          r = p_->fill(in);
        }
        py::list out;
        for (const auto& masks : r) out.append(fills(masks));
        return single ? py::object(out[0]) : py::object(out);
      }
      case Kind::Generate: {
        std::vector<Generation> r;
        {
          py::gil_scoped_release nogil;
          r = p_->generate(in, overrides);
        }
        const std::string key = text_key(p_->task());
        py::list out;
        bool all_one = true;
        for (const auto& g : r) {
          py::list seqs;
          for (size_t s = 0; s < g.sequences.size(); ++s) {
            py::dict d;
            if (s < g.texts.size()) d[py::str(key)] = g.texts[s];
            if (return_tensors || g.texts.empty()) d["generated_token_ids"] = g.sequences[s];
            if (s < g.scores.size()) d["score"] = g.scores[s];
            seqs.append(d);
          }
          all_one = all_one && seqs.size() == 1;
          out.append(seqs);
        }
        if (single) return out[0];
        if (all_one) {  // transformers: a list of texts with one sequence each gives one dict each
          py::list flat;
          for (auto seqs : out) flat.append(py::reinterpret_borrow<py::list>(seqs)[0]);
          return flat;
        }
        return out;
      }
    }
    return py::none();
  }

  const Pipeline& pipeline() const { return *p_; }

 private:
  std::unique_ptr<Pipeline> p_;
  PipelineOptions options_;
  Kind kind_;
};

py::dict generation_dict(const GenerationConfig& c) {
  py::dict d;
  d["max_length"] = c.max_length, d["max_new_tokens"] = c.max_new_tokens, d["min_length"] = c.min_length;
  d["min_new_tokens"] = c.min_new_tokens, d["do_sample"] = c.do_sample, d["num_beams"] = c.num_beams;
  d["temperature"] = c.temperature, d["top_k"] = c.top_k, d["top_p"] = c.top_p;
  d["repetition_penalty"] = c.repetition_penalty, d["no_repeat_ngram_size"] = c.no_repeat_ngram_size;
  d["length_penalty"] = c.length_penalty, d["early_stopping"] = c.early_stopping;
  d["num_return_sequences"] = c.num_return_sequences, d["bad_words_ids"] = c.bad_words_ids;
  d["bos_token_id"] = c.bos_token_id, d["pad_token_id"] = c.pad_token_id, d["eos_token_id"] = c.eos_token_ids;
  d["decoder_start_token_id"] = c.decoder_start_token_id, d["forced_bos_token_id"] = c.forced_bos_token_id;
  d["forced_eos_token_id"] = c.forced_eos_token_id, d["seed"] = c.seed, d["use_cache"] = c.use_cache;
  return d;
}

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<PyPipeline>(m, "Pipeline", "A task over a model folder; call it on a text or a list of texts.")
      .def("__call__", &PyPipeline::call, py::arg("inputs") = py::none())
      .def_property_readonly("task", [](const PyPipeline& p) { return p.pipeline().task(); })
      .def_property_readonly(
          "tokenizer",
          [](const PyPipeline& p) -> py::object {
            const Tokenizer* t = p.pipeline().tokenizer();
            if (!t) return py::none();
            return py::cast(t, py::return_value_policy::reference);
          },
          py::keep_alive<0, 1>(), "The model folder's tokenizer (None when it has none).")
      .def_property_readonly(
          "generation_config",
          [](const PyPipeline& p) -> py::object {
            const GenerationConfig* c = p.pipeline().generation_config();
            return c ? py::object(generation_dict(*c)) : py::object(py::none());
          },
          "The generation settings in force (None for tasks that do not generate).")
      .def(
          "run_json",
          [](PyPipeline& p, py::handle inputs) {
            std::vector<PipelineInput> in;
            if (py::isinstance<py::str>(inputs)) in.push_back(input_of(inputs));
            else
              for (auto v : inputs) in.push_back(input_of(v));
            py::gil_scoped_release nogil;
            return const_cast<Pipeline&>(p.pipeline()).run_json(in);
          },
          py::arg("inputs"), "transformers' result for each input as a JSON document (kiln run's output).")
      .def("__repr__", [](const PyPipeline& p) { return "kiln.Pipeline(task='" + p.pipeline().task() + "')"; });

  m.def(
      "pipeline",
      [](const std::string& task, py::handle model_dir, const py::kwargs& kw) {
        const std::string dir = path_arg(model_dir);
        std::string resolved = task;
        if (task.empty() || task == "auto") {
          py::gil_scoped_release nogil;
          resolved = ModelFolder::open(dir).require_task();
        }
        PipelineOptions o = parse_options(resolved, kw);
        std::unique_ptr<Pipeline> p;
        {
          py::gil_scoped_release nogil;
          p = kiln::pipeline(resolved, dir, o);
        }
        return std::make_unique<PyPipeline>(std::move(p), std::move(o));
      },
      py::arg("task"), py::arg("model_dir"),
      R"doc(transformers' pipeline(): a task over a model folder (ONNX graphs, config.json, tokenizer files).

    clf = kiln.pipeline("text-classification", "distilbert-sst2", threads=2)
    clf("I loved it")                      # [{'label': 'POSITIVE', 'score': 0.99}]
    gen = kiln.pipeline("text2text-generation", "t5-small", max_new_tokens=20)
    gen(["summarize: ..."], num_beams=4)   # [{'generated_text': '...'}]

task "" or "auto": the task config.json's architectures imply. Options: kiln::PipelineOptions by
name (threads, batch_size, truncation, top_k, aggregation_strategy, pooling, file, ...) and, for
generation tasks, transformers' generation settings (also accepted per call).)doc");
  m.def("pipeline_tasks", &pipeline_tasks, "The task names pipeline() accepts.");
}

}  // namespace kiln::python
