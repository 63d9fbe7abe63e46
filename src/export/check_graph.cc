#include "export/check_graph.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "runtime/session.h"

namespace kiln::exporting {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The value a named dim takes in the check run.
int64_t symbol_value(const std::string& symbol) {
  if (symbol.find("batch") != std::string::npos) return 2;
  if (symbol.find("past") != std::string::npos) return 3;
  return 8;
}

// A sum of symbols and numbers ("past_sequence_length + sequence_length"), each symbol by its
// value in `symbols` when there.
int64_t sum_value(const std::string& expr, const std::map<std::string, int64_t>& symbols) {
  int64_t sum = 0;
  size_t start = 0;
  while (true) {
    size_t plus = expr.find('+', start);
    std::string part = trim(expr.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    auto it = symbols.find(part);
    sum += digits ? std::stoll(part) : it != symbols.end() ? it->second : symbol_value(part);
    if (plus == std::string::npos) return sum;
    start = plus + 1;
  }
}

bool has_past(const std::vector<ValueInfo>& inputs) {
  for (const ValueInfo& v : inputs) {
    if (v.name.find("past") != std::string::npos) return true;
    if (v.shape)
      for (const Dim& d : *v.shape)
        if (d.symbol.find("past") != std::string::npos) return true;
  }
  return false;
}

// A dim's value: fixed, by its symbol (`symbols` first), or, unnamed, 3 in a past input and 8
// elsewhere.
int64_t dim_value(const Dim& d, const ValueInfo& v, const std::map<std::string, int64_t>& symbols) {
  if (d.is_fixed()) return *d.value;
  if (d.symbol.empty()) return v.name.find("past") != std::string::npos ? 3 : 8;
  auto it = symbols.find(d.symbol);
  return it != symbols.end() ? it->second : sum_value(d.symbol, symbols);
}

std::string dims_str(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + (dims[i].is_fixed() ? std::to_string(*dims[i].value)
                                               : (dims[i].symbol.empty() ? "?" : dims[i].symbol));
  return s + "]";
}

}  // namespace

NamedTensors check_feeds(const std::vector<ValueInfo>& inputs, const nlohmann::json& config) {
  // Ids valid in every vocabulary the config names (Marian's decoder_vocab_size may be smaller).
  int64_t vocab = 0;
  if (config.is_object())
    for (const auto& [key, value] : config.items())
      if (key.size() >= 10 && key.compare(key.size() - 10, 10, "vocab_size") == 0 && key != "type_vocab_size" &&
          value.is_number_integer() && value.get<int64_t>() > 2)
        vocab = vocab ? std::min(vocab, value.get<int64_t>()) : value.get<int64_t>();
  if (!vocab) vocab = 100;
  // A decoder with a past takes one new token (its declarations may say "past_sequence_length + 1").
  std::map<std::string, int64_t> symbols;
  if (has_past(inputs))
    for (const ValueInfo& v : inputs)
      if (v.name == "input_ids" && v.shape && v.shape->size() == 2 && !(*v.shape)[1].is_fixed() &&
          !(*v.shape)[1].symbol.empty())
        symbols[(*v.shape)[1].symbol] = 1;
  NamedTensors feeds;
  for (const ValueInfo& v : inputs) {
    Shape shape;
    if (v.shape)
      for (const Dim& d : *v.shape) shape.push_back(dim_value(d, v, symbols));
    Tensor t = Tensor::zeros(v.dtype, shape);
    if (v.dtype == DType::I64) {
      int64_t* p = t.data<int64_t>();
      if (v.name.find("input_ids") != std::string::npos)
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = vocab > 2 ? 2 + (i * 7919) % (vocab - 2) : 0;
      else if (v.name.find("attention_mask") != std::string::npos)
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = 1;
    } else if (v.dtype == DType::F32) {
      float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = 0.1f * std::sin(0.37f * (float)i);
    } else if (v.dtype == DType::Bool) {
      bool* p = t.data<bool>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = true;
    }
    feeds[v.name] = std::move(t);
  }
  return feeds;
}

void check_graph(const std::string& path, const std::vector<ValueInfo>& inputs, const std::vector<ValueInfo>& outputs,
                 const nlohmann::json& config, NamedTensors feeds) {
  if (feeds.empty()) feeds = check_feeds(inputs, config);
  // The value of every symbol the feeds fix.
  std::map<std::string, int64_t> symbols;
  for (const ValueInfo& v : inputs) {
    if (!v.shape || !feeds.count(v.name)) continue;
    const Tensor& t = feeds.at(v.name);
    for (size_t i = 0; i < v.shape->size() && (int64_t)i < t.rank(); ++i)
      if (!(*v.shape)[i].is_fixed() && !(*v.shape)[i].symbol.empty()) symbols[(*v.shape)[i].symbol] = t.dim(i);
  }
  NamedTensors got;
  try {
    got = Session(path).run(feeds);
  } catch (const Error& e) {
    throw InternalError(fmt::format("the exported {} does not run in kiln ({}); this is a bug of kiln's exporter", path,
                                    e.what()));
  }
  for (const ValueInfo& v : outputs) {
    auto it = got.find(v.name);
    KILN_CHECK(it != got.end(), InternalError, "the exported {} has no output '{}'; this is a bug of kiln's exporter",
               path, v.name);
    const Tensor& t = it->second;
    KILN_CHECK(t.dtype() == v.dtype, InternalError,
               "the exported {}: output '{}' is {} but was declared {}; this is a bug of kiln's exporter", path, v.name,
               dtype_name(t.dtype()), dtype_name(v.dtype));
    if (!v.shape) continue;
    bool ok = t.rank() == (int64_t)v.shape->size();
    for (size_t i = 0; ok && i < v.shape->size(); ++i) {
      const Dim& d = (*v.shape)[i];
      if (d.is_fixed()) {
        ok = *d.value == t.dim(i);
      } else if (!d.symbol.empty()) {
        auto s = symbols.find(d.symbol);
        if (s == symbols.end() && d.symbol.find('+') != std::string::npos) {
          ok = sum_value(d.symbol, symbols) == t.dim(i);
        } else if (s == symbols.end()) {
          symbols[d.symbol] = t.dim(i);
        } else {
          ok = s->second == t.dim(i);
        }
      }
    }
    KILN_CHECK(ok, InternalError,
               "the exported {}: output '{}' has shape {} but was declared {}; this is a bug of kiln's exporter", path,
               v.name, shape_str(t.shape()), dims_str(*v.shape));
  }
}

}  // namespace kiln::exporting
