// tokenizer.json -> pipeline, and the settings tokenizer_config.json / special_tokens_map.json add.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizers/pipeline.h"

namespace kiln::tokenizers {
namespace fs = std::filesystem;

namespace {
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

json read_json_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError("cannot read " + p.string() + "; check the path and permissions");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    throw BadModel(p.string() + " is not valid JSON (" + e.what() + "); fix or regenerate the file");
  }
}

void apply_config(const json& j, TokenizerConfig& c) {
  if (!j.is_object()) return;
  if (j.contains("clean_up_tokenization_spaces") && j["clean_up_tokenization_spaces"].is_boolean())
    c.clean_up_tokenization_spaces = j["clean_up_tokenization_spaces"].get<bool>();
  if (j.contains("remove_space") && j["remove_space"].is_boolean()) c.remove_space = j["remove_space"].get<bool>();
  if (j.contains("do_lowercase_and_remove_accent") && j["do_lowercase_and_remove_accent"].is_boolean())
    c.do_lowercase_and_remove_accent = j["do_lowercase_and_remove_accent"].get<bool>();
  if (j.contains("additional_special_tokens") && j["additional_special_tokens"].is_array())
    for (auto& t : j["additional_special_tokens"])
      if (auto s = token_text(t)) c.additional_special_tokens.push_back(*s);
  auto tok = [&](const char* k, std::optional<std::string>& dst) {
    if (j.contains(k)) if (auto s = token_text(j[k])) dst = s;
  };
  tok("pad_token", c.pad_token);
  tok("mask_token", c.mask_token);
  tok("unk_token", c.unk_token);
  tok("eos_token", c.eos_token);
  tok("bos_token", c.bos_token);
  if (j.contains("model_max_length") && j["model_max_length"].is_number()) {
    double v = j["model_max_length"].get<double>();
    if (v > 0 && v < 1e12) c.model_max_length = size_t(v);  // transformers writes 1e30 for "no limit"
  }
}
}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig c;
  fs::path d(dir);
  if (fs::exists(d / "special_tokens_map.json")) apply_config(read_json_file(d / "special_tokens_map.json"), c);
  if (fs::exists(d / "tokenizer_config.json")) {
    TokenizerConfig before = c;
    apply_config(read_json_file(d / "tokenizer_config.json"), c);
    if (c.additional_special_tokens.size() > before.additional_special_tokens.size() && !before.additional_special_tokens.empty())
      c.additional_special_tokens.erase(c.additional_special_tokens.begin(), c.additional_special_tokens.begin() + long(before.additional_special_tokens.size()));
  }
  return c;
}

std::unique_ptr<PipelineTokenizer> load_tokenizer_json(const json& j, TokenizerConfig cfg) {
  if (!j.is_object()) bad_field("(top level)", "must be an object");
  Components c;
  c.config = std::move(cfg);
  c.normalizer = make_normalizer(j.contains("normalizer") ? j["normalizer"] : json(), "normalizer");
  c.pre_tokenizer = make_pre_tokenizer(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json(), "pre_tokenizer");
  c.model = make_model(req(j, "model", ""), "model");
  c.decoder = make_decoder(j.contains("decoder") ? j["decoder"] : json(), "decoder");
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const json& arr = j["added_tokens"];
    if (!arr.is_array()) bad_field("added_tokens", "must be a list");
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string w = "added_tokens[" + std::to_string(i) + "]";
      const json& t = arr[i];
      AddedToken a;
      a.content = req_str(t, "content", w);
      const json& id = req(t, "id", w);
      if (!id.is_number_integer() || id.get<int64_t>() < 0) bad_field(w + ".id", "must be a non-negative integer");
      a.id = id.get<int32_t>();
      a.single_word = opt_bool(t, "single_word", w, false);
      a.lstrip = opt_bool(t, "lstrip", w, false);
      a.rstrip = opt_bool(t, "rstrip", w, false);
      a.special = opt_bool(t, "special", w, false);
      a.normalized = opt_bool(t, "normalized", w, !a.special);
      c.added.push_back(std::move(a));
    }
  }
  const auto& added = c.added;
  const Model* model = c.model.get();
  TokenLookup lookup = [&added, model](const std::string& t) -> std::optional<int64_t> {
    for (auto& a : added) if (a.content == t) return a.id;
    auto id = model->token_to_id(t);
    return id ? std::optional<int64_t>(*id) : std::nullopt;
  };
  c.post_processor = make_post_processor(j.contains("post_processor") ? j["post_processor"] : json(), lookup, "post_processor");
  if (j.contains("truncation") && j["truncation"].is_object()) {
    const json& t = j["truncation"];
    TruncationOptions o;
    o.max_length = size_t(opt_int(t, "max_length", "truncation", 512));
    o.stride = size_t(opt_int(t, "stride", "truncation", 0));
    std::string s = opt_str(t, "strategy", "truncation", "LongestFirst");
    o.strategy = s == "OnlyFirst" ? "only_first" : s == "OnlySecond" ? "only_second" : "longest_first";
    o.direction = opt_str(t, "direction", "truncation", "Right") == "Left" ? "left" : "right";
    c.truncation = o;
  }
  if (j.contains("padding") && j["padding"].is_object()) {
    const json& p = j["padding"];
    PaddingOptions o;
    if (p.contains("strategy") && p["strategy"].is_object() && p["strategy"].contains("Fixed")) {
      o.strategy = "max_length";
      o.max_length = p["strategy"]["Fixed"].get<size_t>();
    }
    o.direction = opt_str(p, "direction", "padding", "Right") == "Left" ? "left" : "right";
    o.pad_to_multiple_of = size_t(opt_int(p, "pad_to_multiple_of", "padding", 0));
    o.pad_id = opt_int(p, "pad_id", "padding", 0);
    o.pad_type_id = opt_int(p, "pad_type_id", "padding", 0);
    o.pad_token = opt_str(p, "pad_token", "padding", "[PAD]");
    c.padding = o;
  }
  return std::make_unique<PipelineTokenizer>(std::move(c));
}

}  // namespace kiln::tokenizers

namespace kiln {

std::unique_ptr<Tokenizer> Tokenizer::from_json_file(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (!fs::exists(p)) throw IoError(path + " does not exist; pass a tokenizer.json file");
  auto cfg = tokenizers::read_tokenizer_config(p.parent_path().empty() ? "." : p.parent_path().string());
  tokenizers::json j = tokenizers::read_json_file(p);
  try {
    return tokenizers::load_tokenizer_json(j, std::move(cfg));
  } catch (const tokenizers::json::exception& e) {  // a field of an unexpected type deep inside
    throw BadModel(path + ": a field has an unexpected type (" + e.what() + "); fix or regenerate the file");
  }
}

}  // namespace kiln
