#include "core/tensor_json.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace kiln {

using nlohmann::json;

static double json_number(const json& v, const std::string& name) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw BadInput(fmt::format("tensor '{}': data holds {} where a number was expected", name, v.dump()));
}

Tensor tensor_from_json(const json& j, const std::string& name) {
  KILN_CHECK(j.is_object() && j.contains("dtype") && j.contains("dims") && j.contains("data"), BadInput,
             "tensor '{}' needs the fields dtype, dims and data", name);
  DType dt = dtype_from_name(j["dtype"].get<std::string>());
  KILN_CHECK(dt != DType::Undefined, BadInput, "tensor '{}': unknown dtype '{}'", name,
             j["dtype"].get<std::string>());
  Shape shape;
  for (const auto& d : j["dims"]) {
    KILN_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, BadInput,
               "tensor '{}': dims must be non-negative integers", name);
    shape.push_back(d.get<int64_t>());
  }
  const json& data = j["data"];
  KILN_CHECK(data.is_array(), BadInput, "tensor '{}': data must be a flat array", name);
  Tensor t(dt, shape);
  KILN_CHECK((int64_t)data.size() == t.numel(), BadInput,
             "tensor '{}': {} values for dims {} ({} expected)", name, data.size(), shape_str(shape),
             t.numel());
  if (dt == DType::String) {
    std::string* p = t.data<std::string>();
    for (size_t i = 0; i < data.size(); ++i) p[i] = data[i].get<std::string>();
    return t;
  }
  dispatch_numeric(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw());
    for (size_t i = 0; i < data.size(); ++i) {
      if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
        if (data[i].is_number_integer()) { p[i] = data[i].get<T>(); continue; }
      }
      double v = json_number(data[i], name);
      if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        p[i] = T((float)v);
      } else if constexpr (std::is_same_v<T, bool>) {
        p[i] = v != 0.0;
      } else if constexpr (std::is_integral_v<T>) {
        // Integers must be whole and in range: a cast would be undefined otherwise.
        KILN_CHECK(v == std::floor(v) && v >= (double)std::numeric_limits<T>::lowest() &&
                       v <= (double)std::numeric_limits<T>::max(),
                   BadInput, "tensor '{}': value {} at index {} is not a valid {}", name, data[i].dump(), i,
                   dtype_name(dt));
        p[i] = (T)v;
      } else {
        p[i] = (T)v;
      }
    }
  });
  return t;
}

static json float_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

json tensor_to_json(const Tensor& t) {
  json j;
  j["dtype"] = std::string(dtype_name(t.dtype()));
  j["dims"] = t.shape();
  json data = json::array();
  if (t.dtype() == DType::String) {
    const std::string* p = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i) data.push_back(p[i]);
  } else {
    dispatch_numeric(t.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* p = static_cast<const T*>(t.raw());
      for (int64_t i = 0; i < t.numel(); ++i) {
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
          data.push_back(float_value((float)p[i]));
        else if constexpr (std::is_same_v<T, double>)
          data.push_back(float_value(p[i]));
        else if constexpr (std::is_same_v<T, bool>)
          data.push_back(p[i] ? 1 : 0);
        else
          data.push_back(p[i]);
      }
    });
  }
  j["data"] = std::move(data);
  return j;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("cannot read {}: no such file or no permission", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

NamedTensors parse_tensors_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw BadInput(fmt::format("tensor file is not valid JSON: {}", e.what()));
  }
  KILN_CHECK(j.is_object(), BadInput, "tensor file must be a JSON object of name -> tensor");
  NamedTensors out;
  for (auto& [name, v] : j.items()) out[name] = tensor_from_json(v, name);
  return out;
}

NamedTensors read_tensors_json(const std::string& path) {
  std::string text = read_file(path);
  try {
    return parse_tensors_json(text);
  } catch (const BadInput& e) {
    throw BadInput(fmt::format("{}: {}", path, e.what()));  // say which file is wrong
  }
}

std::string tensors_to_json_text(const NamedTensors& tensors) {
  json j = json::object();
  for (const auto& [name, t] : tensors) j[name] = tensor_to_json(t);
  return j.dump() + "\n";
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw IoError(fmt::format("cannot write {}: check the folder exists and is writable", path));
    f.write(contents.data(), (std::streamsize)contents.size());
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw IoError(fmt::format("writing {} failed (disk full?)", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(fmt::format("cannot rename {} to {}", tmp, path));
  }
}

}  // namespace kiln
