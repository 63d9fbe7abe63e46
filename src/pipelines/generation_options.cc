// GenerationOptions (kiln/pipeline.h): one layer of generation settings — set from strings, read
// from config files, merged, applied to a GenerationConfig.
#include <charconv>
#include <cstdlib>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "pipelines/generation/generation_config.h"

namespace kiln {

namespace {

using nlohmann::json;

// Every field with its transformers name, in names()'s order.
constexpr auto kFields =
    std::make_tuple(std::pair{"max_new_tokens", &GenerationOptions::max_new_tokens},
                    std::pair{"max_length", &GenerationOptions::max_length},
                    std::pair{"min_new_tokens", &GenerationOptions::min_new_tokens},
                    std::pair{"min_length", &GenerationOptions::min_length},
                    std::pair{"num_beams", &GenerationOptions::num_beams},
                    std::pair{"num_return_sequences", &GenerationOptions::num_return_sequences},
                    std::pair{"do_sample", &GenerationOptions::do_sample},
                    std::pair{"temperature", &GenerationOptions::temperature},
                    std::pair{"top_k", &GenerationOptions::top_k}, std::pair{"top_p", &GenerationOptions::top_p},
                    std::pair{"repetition_penalty", &GenerationOptions::repetition_penalty},
                    std::pair{"no_repeat_ngram_size", &GenerationOptions::no_repeat_ngram_size},
                    std::pair{"length_penalty", &GenerationOptions::length_penalty},
                    std::pair{"early_stopping", &GenerationOptions::early_stopping},
                    std::pair{"bad_words_ids", &GenerationOptions::bad_words_ids},
                    std::pair{"bos_token_id", &GenerationOptions::bos_token_id},
                    std::pair{"eos_token_id", &GenerationOptions::eos_token_ids},
                    std::pair{"pad_token_id", &GenerationOptions::pad_token_id},
                    std::pair{"decoder_start_token_id", &GenerationOptions::decoder_start_token_id},
                    std::pair{"forced_bos_token_id", &GenerationOptions::forced_bos_token_id},
                    std::pair{"forced_eos_token_id", &GenerationOptions::forced_eos_token_id},
                    std::pair{"use_cache", &GenerationOptions::use_cache}, std::pair{"seed", &GenerationOptions::seed});

template <typename F>
void for_each_field(F&& f) {
  std::apply([&](const auto&... field) { (f(field.first, field.second), ...); }, kFields);
}

template <typename M>
using value_of =
    typename std::remove_cvref_t<decltype(std::declval<GenerationOptions&>().*std::declval<M>())>::value_type;

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  return parts;
}

template <typename T>
bool parse_number(const std::string& text, T& out) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    out = (T)std::strtod(t.c_str(), &end);
    return end == t.c_str() + t.size();
  } else {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc() && p == t.data() + t.size();
  }
}

std::vector<int64_t> parse_ids(const std::string& name, const std::string& text) {
  std::vector<int64_t> ids;
  for (const std::string& part : split(text, ',')) {
    if (part.empty()) continue;
    int64_t v = 0;
    KILN_CHECK(parse_number(part, v), BadInput,
               "{} '{}': '{}' is not an integer id; give comma-separated ids like 1,2,3", name, text, part);
    ids.push_back(v);
  }
  KILN_CHECK(!ids.empty(), BadInput, "{} '{}' holds no ids", name, text);
  return ids;
}

template <typename T>
T parse_text(const std::string& name, const std::string& text) {
  if constexpr (std::is_same_v<T, bool>) {
    const std::string t = trim(text);
    if (t == "true" || t == "True" || t == "1") return true;
    if (t == "false" || t == "False" || t == "0") return false;
    throw BadInput(fmt::format("{} takes true or false, not '{}'", name, text));
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    return parse_ids(name, text);
  } else if constexpr (std::is_same_v<T, std::vector<std::vector<int64_t>>>) {
    std::vector<std::vector<int64_t>> seqs;
    for (const std::string& seq : split(text, ';'))
      if (!seq.empty()) seqs.push_back(parse_ids(name, seq));
    KILN_CHECK(!seqs.empty(), BadInput, "{} '{}' holds no ids; give sequences like 5,6;7", name, text);
    return seqs;
  } else {
    T v{};
    KILN_CHECK(parse_number(text, v), BadInput, "{} takes {}, not '{}'", name,
               std::is_floating_point_v<T> ? "a number"
                                           : (std::is_unsigned_v<T> ? "a non-negative integer" : "an integer"),
               text);
    return v;
  }
}

template <typename T>
std::optional<T> read_json_field(const char* name, const json& v) {
  if (v.is_null()) return std::nullopt;
  try {
    if constexpr (std::is_same_v<T, bool>) {
      if (std::string(name) == "early_stopping") return v.is_boolean() ? v.get<bool>() : false;  // "never" is false
      return v.get<bool>();
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      if (v.is_number_integer()) return std::vector<int64_t>{v.get<int64_t>()};
      return v.get<std::vector<int64_t>>();
    } else if constexpr (std::is_same_v<T, std::vector<std::vector<int64_t>>>) {
      return v.get<T>();
    } else {
      if (v.is_array()) {  // newer configs allow a list (e.g. several ids): take the first
        if (v.empty()) return std::nullopt;
        return v[0].get<T>();
      }
      return v.get<T>();
    }
  } catch (const json::exception&) {
    throw BadModel(fmt::format("config field '{}' has the wrong type ({})", name, v.dump()));
  }
}

std::string canonical_name(std::string name) {
  if (name.rfind("--", 0) == 0) name = name.substr(2);
  for (char& c : name)
    if (c == '-') c = '_';
  if (name == "eos_token_ids") name = "eos_token_id";
  return name;
}

}  // namespace

const std::vector<std::string>& GenerationOptions::names() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> n;
    for_each_field([&](const char* name, auto) { n.push_back(name); });
    return n;
  }();
  return all;
}

void GenerationOptions::set(const std::string& name_arg, const std::string& value) {
  const std::string name = canonical_name(name_arg);
  bool found = false;
  for_each_field([&](const char* field, auto member) {
    if (found || name != field) return;
    this->*member = parse_text<value_of<decltype(member)>>(name_arg, value);
    found = true;
  });
  if (!found) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    throw BadInput(fmt::format("unknown generation setting '{}'; known: {}", name_arg, known));
  }
}

GenerationOptions GenerationOptions::from_json(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  KILN_CHECK(j.is_object(), BadModel, "generation settings must be a JSON object");
  return pipelines::generation::generation_options_from_json(j);
}

GenerationOptions& GenerationOptions::merge(const GenerationOptions& later) {
  if (later.max_length && !later.max_new_tokens) max_new_tokens.reset();
  if (later.min_length && !later.min_new_tokens) min_new_tokens.reset();
  for_each_field([&](const char*, auto member) {
    if (later.*member) this->*member = later.*member;
  });
  return *this;
}

void GenerationOptions::apply_to(GenerationConfig& c) const {
  pipelines::generation::overlay(*this, c);
  KILN_CHECK(!max_new_tokens || *max_new_tokens >= 0, BadInput, "max_new_tokens must be >= 0");
  KILN_CHECK(c.num_beams >= 1, BadInput, "num_beams must be >= 1, got {}", c.num_beams);
  KILN_CHECK(c.num_return_sequences >= 1, BadInput, "num_return_sequences must be >= 1");
  KILN_CHECK(c.do_sample || c.num_beams == 1 || c.num_return_sequences <= c.num_beams, BadInput,
             "num_return_sequences ({}) must be <= num_beams ({})", c.num_return_sequences, c.num_beams);
}

namespace pipelines::generation {

GenerationOptions generation_options_from_json(const nlohmann::json& j) {
  GenerationOptions g;
  for_each_field([&](const char* name, auto member) {
    if (auto it = j.find(name); it != j.end()) g.*member = read_json_field<value_of<decltype(member)>>(name, *it);
  });
  return g;
}

void overlay(const GenerationOptions& o, GenerationConfig& c) {
  if (o.max_length) c.max_length = *o.max_length, c.max_new_tokens.reset();
  if (o.max_new_tokens) c.max_new_tokens = *o.max_new_tokens;
  if (o.min_length) c.min_length = *o.min_length, c.min_new_tokens.reset();
  if (o.min_new_tokens) c.min_new_tokens = *o.min_new_tokens;
  if (o.num_beams) c.num_beams = *o.num_beams;
  if (o.num_return_sequences) c.num_return_sequences = *o.num_return_sequences;
  if (o.top_k) c.top_k = *o.top_k;
  if (o.no_repeat_ngram_size) c.no_repeat_ngram_size = *o.no_repeat_ngram_size;
  if (o.do_sample) c.do_sample = *o.do_sample;
  if (o.early_stopping) c.early_stopping = *o.early_stopping;
  if (o.use_cache) c.use_cache = *o.use_cache;
  if (o.temperature) c.temperature = *o.temperature;
  if (o.top_p) c.top_p = *o.top_p;
  if (o.repetition_penalty) c.repetition_penalty = *o.repetition_penalty;
  if (o.length_penalty) c.length_penalty = *o.length_penalty;
  if (o.bad_words_ids) c.bad_words_ids = *o.bad_words_ids;
  if (o.bos_token_id) c.bos_token_id = *o.bos_token_id;
  if (o.forced_bos_token_id) c.forced_bos_token_id = *o.forced_bos_token_id;
  if (o.forced_eos_token_id) c.forced_eos_token_id = *o.forced_eos_token_id;
  if (o.pad_token_id) c.pad_token_id = *o.pad_token_id;
  if (o.decoder_start_token_id) c.decoder_start_token_id = *o.decoder_start_token_id;
  if (o.eos_token_ids) c.eos_token_ids = *o.eos_token_ids;
  if (o.seed) c.seed = *o.seed;
}

}  // namespace pipelines::generation
}  // namespace kiln
