#include "quantize/calibration.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "core/json_lines.h"
#include "kiln/model_folder.h"
#include "quantize/quantize_model.h"
#include "quantize/range_collectors.h"
#include "runtime/session.h"
#include "tokenizers/tokenizer.h"

namespace kiln::quantize {

namespace fs = std::filesystem;

namespace {

// A sample as read: tensors, or a text (and optional pair) for the folder's tokenizer.
struct Raw {
  NamedTensors tensors;
  bool is_text = false;
  std::string text, pair;
};

std::vector<NamedTensors> read_json_samples(const fs::path& p) {
  std::vector<NamedTensors> out;
  std::string text = read_file(p.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw BadInput(fmt::format("calibration file {} is not JSON: {}", p.string(), e.what()));
  }
  auto one = [&](const nlohmann::json& o) {
    NamedTensors t;
    KILN_CHECK(o.is_object(), BadInput, "calibration file {}: each sample must be an object {{name: tensor}}", p.string());
    for (auto it = o.begin(); it != o.end(); ++it) t[it.key()] = tensor_from_json(it.value(), it.key());
    out.push_back(std::move(t));
  };
  if (j.is_array())
    for (const auto& o : j) one(o);
  else
    one(j);
  return out;
}

std::vector<Raw> read_jsonl_samples(const fs::path& p) {
  std::vector<Raw> out;
  for_each_json_line(p.string(), "calibration file", [&](const nlohmann::json& j, int n) {
    KILN_CHECK(j.is_object(), BadInput, "{} line {}: expected an object {{name: tensor}}", p.string(), n);
    Raw r;
    if (j.contains("text") && j["text"].is_string()) {
      r.is_text = true;
      r.text = j["text"].get<std::string>();
      if (j.contains("text_pair") && j["text_pair"].is_string()) r.pair = j["text_pair"].get<std::string>();
    } else {
      for (auto it = j.begin(); it != j.end(); ++it) r.tensors[it.key()] = tensor_from_json(it.value(), it.key());
    }
    out.push_back(std::move(r));
  });
  return out;
}

std::vector<Raw> read_text_lines(const fs::path& p) {
  std::ifstream f(p);
  KILN_CHECK(f.good(), IoError, "cannot read calibration file {}", p.string());
  std::vector<Raw> out;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    Raw r;
    r.is_text = true;
    r.text = line;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Raw> read_samples(const fs::path& p) {
  if (fs::is_directory(p)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_regular_file() && (e.path().extension() == ".json" || e.path().extension() == ".jsonl"))
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<Raw> out;
    for (const auto& f : files) {
      auto s = read_samples(f);
      out.insert(out.end(), s.begin(), s.end());
    }
    return out;
  }
  if (p.extension() == ".jsonl") return read_jsonl_samples(p);
  if (p.extension() == ".txt") return read_text_lines(p);
  KILN_CHECK(p.extension() == ".json", Unsupported,
             "calibration data {}: use tensor JSON (.json), JSON lines (.jsonl, tensors or {{\"text\": ...}}), "
             "text lines (.txt) or a folder of them",
             p.string());
  std::vector<Raw> out;
  for (auto& t : read_json_samples(p)) {
    Raw r;
    r.tensors = std::move(t);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

namespace {

// The tokenizer of a model folder (kiln::ModelFolder: its own files, or the folder its tokenizer.txt names).
std::unique_ptr<Tokenizer> folder_tokenizer(const std::string& model_dir) {
  KILN_CHECK(!model_dir.empty(), BadInput, "text calibration samples need the model folder's tokenizer");
  try {
    return Tokenizer::from_dir(ModelFolder::open(model_dir).require_tokenizer_dir());
  } catch (const Error& e) {
    throw BadInput(fmt::format("text calibration samples need a tokenizer in {} ({})", model_dir, e.what()));
  }
}

NamedTensors tokenized(const Tokenizer& tok, const Raw& r, const Model& model) {
  Encoding e = r.pair.empty() ? tok.encode(r.text) : tok.encode_pair(r.text, r.pair);
  size_t n = std::min<size_t>(e.size(), 512);
  auto row = [&](const std::vector<int64_t>& v, int64_t fill) {
    std::vector<int64_t> x(n, fill);
    for (size_t i = 0; i < n && i < v.size(); ++i) x[i] = v[i];
    return Tensor::from_vector<int64_t>({1, (int64_t)n}, x);
  };
  NamedTensors t;
  for (const auto& in : model.graph.inputs) {
    if (in.name == "input_ids") t[in.name] = row(e.ids, 0);
    else if (in.name == "attention_mask") t[in.name] = row(e.attention_mask, 1);
    else if (in.name == "token_type_ids") t[in.name] = row(e.type_ids, 0);
  }
  return t;
}

}  // namespace

std::vector<NamedTensors> load_calibration_samples(const std::string& data, const Model& model,
                                                   const std::string& graph_file, int max_samples,
                                                   const std::string& model_dir) {
  fs::path p(data);
  KILN_CHECK(fs::exists(p), BadInput, "calibration data {} does not exist", data);
  if (fs::is_directory(p)) {
    std::string stem = fs::path(graph_file).stem().string();
    if (fs::exists(p / (stem + ".jsonl"))) p = p / (stem + ".jsonl");
    else if (fs::is_directory(p / stem)) p = p / stem;
  }
  std::vector<Raw> raw = read_samples(p);
  KILN_CHECK(!raw.empty(), BadInput, "calibration data {} holds no samples", p.string());
  if (max_samples > 0 && (int)raw.size() > max_samples) raw.resize(max_samples);
  std::unique_ptr<Tokenizer> tok;
  std::vector<NamedTensors> samples;
  for (auto& r : raw) {
    if (r.is_text) {
      if (!tok) tok = folder_tokenizer(model_dir);
      samples.push_back(tokenized(*tok, r, model));
    } else {
      samples.push_back(std::move(r.tensors));
    }
  }
  std::vector<std::string> needed;
  for (const auto& in : model.graph.inputs)
    if (!model.graph.is_initializer(in.name)) needed.push_back(in.name);
  for (size_t i = 0; i < samples.size(); ++i) {
    NamedTensors kept;
    for (const auto& n : needed) {
      auto it = samples[i].find(n);
      KILN_CHECK(it != samples[i].end(), BadInput,
                 "calibration sample {} of {} has no input '{}' that {} needs (a folder of several graphs takes "
                 "per-graph samples: <graph name>.jsonl in a calibration folder)",
                 i + 1, p.string(), n, graph_file);
      kept[n] = it->second;
    }
    samples[i] = std::move(kept);
  }
  return samples;
}

Ranges calibrate(const Model& model, const Options& options, const std::string& graph_file,
                 const std::function<void(const std::string&)>& progress, const std::string& model_dir) {
  std::vector<std::string> wanted = values_to_calibrate(model, options);
  Ranges ranges;
  if (wanted.empty()) return ranges;
  std::vector<NamedTensors> samples =
      load_calibration_samples(options.calibration_data, model, graph_file, options.calibration_samples, model_dir);

  // The graph with every wanted value of the main graph made an output.
  Model m = model;
  std::vector<std::string> fetch;
  std::set<std::string> produced;
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs) produced.insert(o);
  for (const auto& in : m.graph.inputs) produced.insert(in.name);
  for (const auto& w : wanted) {
    if (!produced.count(w)) continue;  // inside a subgraph
    fetch.push_back(w);
    if (!m.graph.find_output(w)) {
      ValueInfo v;
      v.name = w;
      v.dtype = DType::F32;
      m.graph.outputs.push_back(v);
    }
  }
  SessionOptions so;
  so.threads = options.threads;
  so.optimization_level = 1;
  Session session(std::move(m), so);

  bool hist = options.calibration_method != CalibrationMethod::MinMax;
  int bins = options.num_bins > 0 ? options.num_bins : 2048;
  bool symmetric = options.activation_symmetric;
  std::map<std::string, RangeCollector> collectors;
  for (const auto& f : fetch) collectors.emplace(f, RangeCollector(hist, symmetric, bins));
  for (int pass = 0; pass < (hist ? 2 : 1); ++pass) {
    for (size_t i = 0; i < samples.size(); ++i) {
      if (progress && samples.size() > 1)
        progress(fmt::format("calibration {} pass {}: sample {}/{}", graph_file, pass + 1, i + 1, samples.size()));
      NamedTensors outs = session.run(samples[i], fetch);
      for (auto& [name, c] : collectors) {
        auto it = outs.find(name);
        if (it == outs.end() || it->second.dtype() != DType::F32) continue;
        if (pass == 0) c.observe(it->second.data<float>(), it->second.numel());
        else c.fill(it->second.data<float>(), it->second.numel());
      }
    }
  }
  for (auto& [name, c] : collectors) {
    switch (options.calibration_method) {
      case CalibrationMethod::MinMax: ranges[name] = c.minmax(); break;
      case CalibrationMethod::Percentile: ranges[name] = c.percentile(options.percentile); break;
      case CalibrationMethod::Entropy: ranges[name] = c.entropy(128); break;
    }
  }
  return ranges;
}

}  // namespace kiln::quantize
