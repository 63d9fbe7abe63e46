// kiln.pipeline(task, model_dir, **options): transformers' pipeline() over kiln::pipeline(). The
// returned object is called on a text, a list of texts (or dicts, or token ids) and gives
// transformers' result shapes as Python dicts and lists; generation settings may also be given per
// call. Calls release the GIL.
#include <memory>
#include <optional>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/error.h"
#include "kiln/model_folder.h"
#include "kiln/pipeline.h"
#include "pipeline_args.h"

namespace kiln::python {

namespace {

enum class Kind { Classify, Tag, Answer, Embed, Fill, Generate };

Kind kind_of(const std::string& t) {
  if (t == "text-classification" || t == "sentiment-analysis") return Kind::Classify;
  if (t == "token-classification" || t == "ner") return Kind::Tag;
  if (t == "question-answering") return Kind::Answer;
  if (t == "feature-extraction") return Kind::Embed;
  if (t == "fill-mask") return Kind::Fill;
  return Kind::Generate;
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
