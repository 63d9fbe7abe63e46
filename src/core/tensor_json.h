// Tensors in the JSON form used by the reference fixtures and `kiln exec`:
// {"name": {"dtype": "float32", "dims": [..], "data": [flat row-major]}}, non-finite floats as the
// strings "NaN", "Infinity", "-Infinity".
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tensor.h"  // NamedTensors

namespace kiln {

Tensor tensor_from_json(const nlohmann::json& j, const std::string& name);
nlohmann::json tensor_to_json(const Tensor& t);

NamedTensors read_tensors_json(const std::string& path);    // throws IoError / BadInput
NamedTensors parse_tensors_json(const std::string& text);   // throws BadInput
std::string tensors_to_json_text(const NamedTensors& tensors);
// Writes to a temporary file beside `path`, then renames: never a half-written file.
void write_file_atomic(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);  // throws IoError

}  // namespace kiln
