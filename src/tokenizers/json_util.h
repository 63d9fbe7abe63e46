// Reading tokenizer.json fields with errors that name the field (BadModel).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kiln::tokenizers {

using json = nlohmann::json;

[[noreturn]] inline void bad_field(const std::string& where, const std::string& what) {
  throw BadModel("tokenizer.json: " + where + " " + what + "; fix or regenerate the file (tokenizer.save() in Python)");
}
inline const json& req(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) bad_field(where + "." + key, "is missing");
  return j[key];
}
inline std::string req_str(const json& j, const char* key, const std::string& where) {
  const json& v = req(j, key, where);
  if (!v.is_string()) bad_field(where + "." + key, "must be a string");
  return v.get<std::string>();
}
inline std::string opt_str(const json& j, const char* key, const std::string& where, std::string dflt = "") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_string()) bad_field(where + "." + key, "must be a string");
  return j[key].get<std::string>();
}
inline bool opt_bool(const json& j, const char* key, const std::string& where, bool dflt) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) bad_field(where + "." + key, "must be true or false");
  return j[key].get<bool>();
}
inline int64_t opt_int(const json& j, const char* key, const std::string& where, int64_t dflt) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number_integer()) bad_field(where + "." + key, "must be an integer");
  return j[key].get<int64_t>();
}
inline std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object()) bad_field(where, "must be an object");
  return req_str(j, "type", where);
}

}  // namespace kiln::tokenizers
