#include "tokenizers/post_processors.h"

#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/unicode.h"

namespace kiln::tokenizers {

void append_encoding(Encoding& d, const Encoding& s, int64_t type_id, int seq_id) {
  d.ids.insert(d.ids.end(), s.ids.begin(), s.ids.end());
  d.tokens.insert(d.tokens.end(), s.tokens.begin(), s.tokens.end());
  d.offsets.insert(d.offsets.end(), s.offsets.begin(), s.offsets.end());
  d.type_ids.insert(d.type_ids.end(), s.size(), type_id);
  d.attention_mask.insert(d.attention_mask.end(), s.size(), 1);
  d.special_tokens_mask.insert(d.special_tokens_mask.end(), s.size(), 0);
  d.sequence_ids.insert(d.sequence_ids.end(), s.size(), seq_id);
}

void append_special(Encoding& d, int64_t id, const std::string& tok, int64_t type_id) {
  d.ids.push_back(id);
  d.tokens.push_back(tok);
  d.offsets.emplace_back(0, 0);
  d.type_ids.push_back(type_id);
  d.attention_mask.push_back(1);
  d.special_tokens_mask.push_back(1);
  d.sequence_ids.push_back(-1);
}

namespace {

// Trims the offsets of byte-level tokens to leave out their leading/trailing spaces ("Ġ").
void trim_byte_level_offsets(Encoding& e) {
  static const std::string G = byte_to_unicode(' ');
  for (size_t i = 0; i < e.size(); ++i) {
    const std::string& t = e.tokens[i];
    auto& [b, en] = e.offsets[i];
    size_t lead = 0, trail = 0, p = 0;
    while (t.compare(p, G.size(), G) == 0) { ++lead; p += G.size(); }
    if (p == t.size()) continue;  // only spaces: keep
    size_t q = t.size();
    while (q >= G.size() && t.compare(q - G.size(), G.size(), G) == 0) { ++trail; q -= G.size(); }
    if (b + lead <= en - std::min(en, trail) && en >= trail) { b += lead; en -= trail; }
  }
}

class DefaultPost : public PostProcessor {
 public:
  Encoding join(Encoding a, Encoding* b, bool) const override {
    Encoding out;
    append_encoding(out, a, 0, 0);
    if (b) append_encoding(out, *b, 1, 1);
    return out;
  }
  size_t num_special(bool) const override { return 0; }
  bool gives_type_ids() const override { return false; }
};

class ByteLevelPost : public DefaultPost {
 public:
  explicit ByteLevelPost(bool trim) : trim_(trim) {}
  void prepare(Encoding& e) const override { if (trim_) trim_byte_level_offsets(e); }

 private:
  bool trim_;
};

struct Special {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
};

class Template : public PostProcessor {
 public:
  struct Item {
    bool special;
    std::string id;  // "A"/"B" or the special token's name
    int64_t type_id;
  };
  Template(std::vector<Item> single, std::vector<Item> pair, std::unordered_map<std::string, Special> specials)
      : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

  Encoding join(Encoding a, Encoding* b, bool add_special) const override {
    const auto& items = b ? pair_ : single_;
    Encoding out;
    for (const Item& it : items) {
      if (it.special) {
        if (!add_special) continue;
        const Special& s = specials_.at(it.id);
        for (size_t k = 0; k < s.ids.size(); ++k) append_special(out, s.ids[k], s.tokens[k], it.type_id);
      } else if (it.id == "A") {
        append_encoding(out, a, it.type_id, 0);
      } else if (b) {
        append_encoding(out, *b, it.type_id, 1);
      }
    }
    return out;
  }
  size_t num_special(bool pair) const override {
    size_t n = 0;
    for (const Item& it : pair ? pair_ : single_) if (it.special) n += specials_.at(it.id).ids.size();
    return n;
  }
  bool gives_type_ids() const override { return true; }

 private:
  std::vector<Item> single_, pair_;
  std::unordered_map<std::string, Special> specials_;
};

class BertLike : public PostProcessor {
 public:
  BertLike(std::string cls, int64_t cls_id, std::string sep, int64_t sep_id, bool roberta, bool trim)
      : cls_(std::move(cls)), sep_(std::move(sep)), cls_id_(cls_id), sep_id_(sep_id), roberta_(roberta), trim_(trim) {}
  void prepare(Encoding& e) const override { if (roberta_ && trim_) trim_byte_level_offsets(e); }
  Encoding join(Encoding a, Encoding* b, bool add_special) const override {
    Encoding out;
    if (add_special) append_special(out, cls_id_, cls_, 0);
    append_encoding(out, a, 0, 0);
    if (add_special) append_special(out, sep_id_, sep_, 0);
    if (b) {
      if (add_special && roberta_) append_special(out, sep_id_, sep_, 1);
      append_encoding(out, *b, 1, 1);
      if (add_special) append_special(out, sep_id_, sep_, 1);
    }
    return out;
  }
  size_t num_special(bool pair) const override { return pair ? (roberta_ ? 4 : 3) : 2; }
  bool gives_type_ids() const override { return true; }

 private:
  std::string cls_, sep_;
  int64_t cls_id_, sep_id_;
  bool roberta_, trim_;
};

class SuffixPost : public PostProcessor {
 public:
  SuffixPost(std::string eos, int64_t id) : eos_(std::move(eos)), id_(id) {}
  Encoding join(Encoding a, Encoding* b, bool add_special) const override {
    Encoding out;
    append_encoding(out, a, 0, 0);
    if (add_special) append_special(out, id_, eos_, 0);
    if (b) {
      append_encoding(out, *b, 0, 1);
      if (add_special) append_special(out, id_, eos_, 0);
    }
    return out;
  }
  size_t num_special(bool pair) const override { return pair ? 2 : 1; }
  bool gives_type_ids() const override { return true; }

 private:
  std::string eos_;
  int64_t id_;
};

class SequencePost : public PostProcessor {
 public:
  explicit SequencePost(std::vector<std::unique_ptr<PostProcessor>> v) : v_(std::move(v)) {
    for (auto& p : v_) if (!dynamic_cast<ByteLevelPost*>(p.get())) joiner_ = p.get();
    if (!joiner_) { def_ = make_default_post_processor(); joiner_ = def_.get(); }
  }
  void prepare(Encoding& e) const override { for (auto& p : v_) p->prepare(e); }
  Encoding join(Encoding a, Encoding* b, bool add_special) const override { return joiner_->join(std::move(a), b, add_special); }
  size_t num_special(bool pair) const override { return joiner_->num_special(pair); }
  bool gives_type_ids() const override { return !v_.empty() && v_.back()->gives_type_ids(); }

 private:
  std::vector<std::unique_ptr<PostProcessor>> v_;
  std::unique_ptr<PostProcessor> def_;
  const PostProcessor* joiner_ = nullptr;
};

std::pair<std::string, int64_t> tok_pair(const json& j, const char* key, const std::string& where) {
  const json& v = req(j, key, where);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
    bad_field(where + "." + key, "must be [token, id]");
  return {v[0].get<std::string>(), v[1].get<int64_t>()};
}

std::vector<Template::Item> read_template(const json& arr, const std::string& where) {
  std::vector<Template::Item> out;
  if (!arr.is_array()) bad_field(where, "must be a list");
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string w = where + "[" + std::to_string(i) + "]";
    const json& it = arr[i];
    if (it.is_object() && it.contains("SpecialToken")) {
      const json& s = it["SpecialToken"];
      out.push_back({true, req_str(s, "id", w + ".SpecialToken"), opt_int(s, "type_id", w, 0)});
    } else if (it.is_object() && it.contains("Sequence")) {
      const json& s = it["Sequence"];
      std::string id = req_str(s, "id", w + ".Sequence");
      if (id != "A" && id != "B") bad_field(w + ".Sequence.id", "must be \"A\" or \"B\"");
      out.push_back({false, id, opt_int(s, "type_id", w, 0)});
    } else {
      bad_field(w, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<PostProcessor> make_default_post_processor() { return std::make_unique<DefaultPost>(); }
std::unique_ptr<PostProcessor> make_bert_processing(std::string cls, int64_t cls_id, std::string sep, int64_t sep_id) {
  return std::make_unique<BertLike>(std::move(cls), cls_id, std::move(sep), sep_id, false, false);
}
std::unique_ptr<PostProcessor> make_roberta_processing(std::string cls, int64_t cls_id, std::string sep, int64_t sep_id, bool trim) {
  return std::make_unique<BertLike>(std::move(cls), cls_id, std::move(sep), sep_id, true, trim);
}
std::unique_ptr<PostProcessor> make_suffix_processing(std::string eos, int64_t eos_id) {
  return std::make_unique<SuffixPost>(std::move(eos), eos_id);
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const TokenLookup& lookup, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string type = type_of(j, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelPost>(opt_bool(j, "trim_offsets", where, true));
  if (type == "BertProcessing") {
    auto [sep, sid] = tok_pair(j, "sep", where);
    auto [cls, cid] = tok_pair(j, "cls", where);
    return make_bert_processing(cls, cid, sep, sid);
  }
  if (type == "RobertaProcessing") {
    auto [sep, sid] = tok_pair(j, "sep", where);
    auto [cls, cid] = tok_pair(j, "cls", where);
    return make_roberta_processing(cls, cid, sep, sid, opt_bool(j, "trim_offsets", where, true));
  }
  if (type == "TemplateProcessing") {
    auto single = read_template(req(j, "single", where), where + ".single");
    auto pair = read_template(req(j, "pair", where), where + ".pair");
    std::unordered_map<std::string, Special> specials;
    if (j.contains("special_tokens") && j["special_tokens"].is_object()) {
      for (auto it = j["special_tokens"].begin(); it != j["special_tokens"].end(); ++it) {
        std::string w = where + ".special_tokens[\"" + it.key() + "\"]";
        Special s;
        const json& ids = req(it.value(), "ids", w);
        const json& toks = req(it.value(), "tokens", w);
        if (!ids.is_array() || !toks.is_array() || ids.size() != toks.size()) bad_field(w, "needs ids and tokens lists of equal length");
        for (size_t k = 0; k < ids.size(); ++k) {
          if (!ids[k].is_number_integer() || !toks[k].is_string()) bad_field(w, "has a bad id or token");
          s.ids.push_back(ids[k].get<int64_t>());
          s.tokens.push_back(toks[k].get<std::string>());
        }
        specials[it.key()] = std::move(s);
      }
    }
    for (auto* items : {&single, &pair})
      for (auto& it : *items)
        if (it.special && !specials.count(it.id)) {
          auto id = lookup(it.id);
          if (!id) bad_field(where, "uses special token \"" + it.id + "\" that is neither in special_tokens nor in the vocabulary");
          specials[it.id] = Special{{*id}, {it.id}};
        }
    return std::make_unique<Template>(std::move(single), std::move(pair), std::move(specials));
  }
  if (type == "Sequence") {
    const json& arr = req(j, "processors", where);
    if (!arr.is_array()) bad_field(where + ".processors", "must be a list");
    std::vector<std::unique_ptr<PostProcessor>> v;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto p = make_post_processor(arr[i], lookup, where + ".processors[" + std::to_string(i) + "]");
      if (p) v.push_back(std::move(p));
    }
    return std::make_unique<SequencePost>(std::move(v));
  }
  throw Unsupported("tokenizer.json: " + where + ".type \"" + type + "\" is not supported by kiln; supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence");
}

}  // namespace kiln::tokenizers
