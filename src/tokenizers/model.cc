#include "tokenizers/model.h"

namespace kiln::tokenizers {

void Model::set_vocab_entry(const std::string& t, int32_t id) {
  if (id < 0) throw BadModel("tokenizer.json: model.vocab has a negative id for \"" + t + "\"; fix the vocabulary");
  vocab_.set(t, id);
  if (size_t(id) >= id_to_tok_.size()) { id_to_tok_.resize(size_t(id) + 1); has_.resize(size_t(id) + 1); }
  id_to_tok_[size_t(id)] = t;
  has_[size_t(id)] = true;
}

void Model::add_token(const std::string& t, int32_t id) { set_vocab_entry(t, id); }

namespace {
std::vector<std::pair<std::string, int32_t>> read_vocab_map(const json& v, const std::string& where) {
  if (!v.is_object()) bad_field(where, "must be an object of token: id");
  std::vector<std::pair<std::string, int32_t>> out;
  out.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer()) bad_field(where + "[\"" + it.key() + "\"]", "must be an integer id");
    out.emplace_back(it.key(), it.value().get<int32_t>());
  }
  return out;
}
}  // namespace

std::unique_ptr<Model> make_model(const json& j, const std::string& where) {
  if (!j.is_object()) bad_field(where, "must be an object");
  std::string type = opt_str(j, "type", where, "");
  if (type.empty()) {  // older files: infer as the reference does
    const json& v = req(j, "vocab", where);
    if (v.is_array()) type = "Unigram";
    else if (j.contains("merges")) type = "BPE";
    else if (j.contains("continuing_subword_prefix")) type = "WordPiece";
    else type = "WordLevel";
  }
  if (type == "WordPiece") {
    WordPieceConfig c;
    c.vocab = read_vocab_map(req(j, "vocab", where), where + ".vocab");
    c.unk_token = opt_str(j, "unk_token", where, "[UNK]");
    c.prefix = opt_str(j, "continuing_subword_prefix", where, "##");
    c.max_chars = size_t(opt_int(j, "max_input_chars_per_word", where, 100));
    return make_wordpiece(std::move(c), where);
  }
  if (type == "BPE") {
    BpeConfig c;
    c.vocab = read_vocab_map(req(j, "vocab", where), where + ".vocab");
    const json& m = req(j, "merges", where);
    if (!m.is_array()) bad_field(where + ".merges", "must be a list");
    c.merges.reserve(m.size());
    for (size_t i = 0; i < m.size(); ++i) {
      const json& x = m[i];
      if (x.is_string()) {
        const std::string& s = x.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos) bad_field(where + ".merges[" + std::to_string(i) + "]", "must be \"a b\"");
        c.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string()) {
        c.merges.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
      } else {
        bad_field(where + ".merges[" + std::to_string(i) + "]", "must be \"a b\" or [\"a\", \"b\"]");
      }
    }
    if (j.contains("unk_token") && j["unk_token"].is_string()) c.unk_token = j["unk_token"].get<std::string>();
    c.continuing_subword_prefix = opt_str(j, "continuing_subword_prefix", where);
    c.end_of_word_suffix = opt_str(j, "end_of_word_suffix", where);
    c.byte_fallback = opt_bool(j, "byte_fallback", where, false);
    c.fuse_unk = opt_bool(j, "fuse_unk", where, false);
    c.ignore_merges = opt_bool(j, "ignore_merges", where, false);
    return make_bpe(std::move(c), where);
  }
  if (type == "Unigram") {
    UnigramConfig c;
    const json& v = req(j, "vocab", where);
    if (!v.is_array()) bad_field(where + ".vocab", "must be a list of [piece, score]");
    c.vocab.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const json& x = v[i];
      if (!x.is_array() || x.size() != 2 || !x[0].is_string() || !x[1].is_number())
        bad_field(where + ".vocab[" + std::to_string(i) + "]", "must be [piece, score]");
      c.vocab.emplace_back(x[0].get<std::string>(), x[1].get<double>());
    }
    if (j.contains("unk_id") && !j["unk_id"].is_null()) {
      if (!j["unk_id"].is_number_integer()) bad_field(where + ".unk_id", "must be an integer");
      c.unk_id = j["unk_id"].get<int32_t>();
    }
    c.byte_fallback = opt_bool(j, "byte_fallback", where, false);
    return make_unigram(std::move(c), where);
  }
  if (type == "WordLevel")
    return make_wordlevel(read_vocab_map(req(j, "vocab", where), where + ".vocab"), opt_str(j, "unk_token", where, "<unk>"), where);
  throw Unsupported("tokenizer.json: " + where + ".type \"" + type + "\" is not supported by kiln; supported: WordPiece, BPE, Unigram, WordLevel");
}

}  // namespace kiln::tokenizers
