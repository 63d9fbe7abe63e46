// Python arguments of kiln.pipeline and its calls as kiln's types: PipelineOptions and
// GenerationOptions from keyword arguments (by their transformers / kiln names), PipelineInput
// from a str, a dict or token ids.
#pragma once
#include <optional>
#include <string>

#include "bindings.h"
#include "kiln/pipeline.h"

namespace kiln::python {

// text2text-generation, summarization, translation[_xx_to_yy], text-generation.
bool is_generation_task(const std::string& task);
// One generation setting by its transformers name into `g`; false when `name` is not one.
bool set_generation(GenerationOptions& g, const std::string& name, py::handle value);
// The names set_generation() knows, for error messages.
extern const std::string kGenerationNames;
// kiln.pipeline()'s keyword arguments for `task`; throws BadInput naming an unknown one.
PipelineOptions parse_options(const std::string& task, const py::kwargs& kw);
// A list (or 1-D integer array) of token ids, rather than a batch of inputs.
bool is_ids(py::handle v);
// One pipeline input: a str, a dict (text/text_pair, question/context) or token ids.
PipelineInput input_of(py::handle v);

template <typename T>
std::optional<T> opt(py::handle v) {
  if (v.is_none()) return std::nullopt;
  return v.cast<T>();
}

}  // namespace kiln::python
