#include "tokenizers/pipeline.h"

#include "tokenizers/unicode.h"

namespace kiln::tokenizers {

PipelineTokenizer::PipelineTokenizer(Components c) : c_(std::move(c)) {
  if (!c_.model) throw BadModel("tokenizer.json: model is missing; fix or regenerate the file");
  post_ = c_.post_processor.get();
  if (!post_) { default_post_ = make_default_post_processor(); post_ = default_post_.get(); }
  for (size_t i = 0; i < c_.added.size(); ++i) {
    const AddedToken& t = c_.added[i];
    c_.model->add_token(t.content, t.id);
    added_contents_.insert(t.content);
    if (t.special) special_contents_.insert(t.content);
    added_by_content_.set(t.content, int32_t(i));
    if (t.normalized && c_.normalizer) {
      NString n = NString::from(t.content, 0);
      c_.normalizer->normalize(n);
      norm_splitter_.add(n.text, int32_t(i));
      added_by_content_.set(n.text, int32_t(i));
    } else {
      raw_splitter_.add(t.content, int32_t(i));
    }
  }
  for (auto& s : c_.config.additional_special_tokens) special_contents_.insert(s);
}

void PipelineTokenizer::emit_added(int32_t index, size_t b, size_t e, Encoding& out) const {
  const AddedToken& t = c_.added[size_t(index)];
  out.ids.push_back(t.id);
  out.tokens.push_back(t.content);
  out.offsets.emplace_back(b, e);
}

namespace {
struct Section {
  size_t b, e;
  int32_t token;  // added token index, or -1 for text
};

// Splits [0, n) of text into text and added-token sections, then lets lstrip/rstrip tokens eat
// the whitespace next to them (JavaScript trim, as the reference does).
void sections_of(std::string_view text, const AddedSplitter& sp, const std::vector<AddedToken>& added, std::vector<Section>& out) {
  std::vector<AddedSplitter::Match> m;
  sp.find(text, added, m);
  size_t pos = 0;
  for (auto& x : m) {
    if (x.b > pos) out.push_back({pos, x.b, -1});
    out.push_back({x.b, x.e, x.token});
    pos = x.e;
  }
  if (pos < text.size()) out.push_back({pos, text.size(), -1});
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].token < 0) continue;
    const AddedToken& t = added[size_t(out[i].token)];
    if (t.lstrip && i > 0 && out[i - 1].token < 0) {
      Section& s = out[i - 1];
      while (s.e > s.b) {
        size_t k = s.e - 1;
        while (k > s.b && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
        size_t len;
        if (!is_js_space(decode_utf8(text, k, len))) break;
        s.e = k;
      }
    }
    if (t.rstrip && i + 1 < out.size() && out[i + 1].token < 0) {
      Section& s = out[i + 1];
      while (s.b < s.e) {
        size_t len;
        if (!is_js_space(decode_utf8(text, s.b, len))) break;
        s.b += len;
      }
    }
  }
}
}  // namespace

Encoding PipelineTokenizer::encode_sequence(std::string_view text) const {
  Encoding out;
  if (!is_valid_utf8(text)) {
    // Malformed bytes read as U+FFFD, as the reference's decoder does; offsets are mapped back to
    // the bytes of the original text.
    std::string valid;
    std::vector<Align> back;  // per byte of valid: its character's span in text
    for (size_t i = 0; i < text.size();) {
      size_t len;
      char32_t c = decode_utf8(text, i, len);
      size_t n = valid.size();
      append_utf8(valid, c);
      back.insert(back.end(), valid.size() - n, Align{uint32_t(i), uint32_t(i + len)});
      i += len;
    }
    out = encode_sequence(valid);
    for (auto& [b, e] : out.offsets) {
      if (e > b) { b = back[b].b; e = back[e - 1].e; }
      else { b = e = b < back.size() ? back[b].b : text.size(); }
    }
    return out;
  }
  std::vector<Section> secs;
  sections_of(text, raw_splitter_, c_.added, secs);
  for (size_t i = 0; i < secs.size(); ++i) {
    const Section& s = secs[i];
    if (s.token >= 0) { emit_added(s.token, s.b, s.e, out); continue; }
    if (s.e == s.b) continue;
    std::string_view part = text.substr(s.b, s.e - s.b);
    if (const int32_t* idx = added_by_content_.find(part)) { emit_added(*idx, s.b, s.e, out); continue; }
    encode_section(part, s.b, int(i), out);
  }
  return out;
}

void PipelineTokenizer::encode_section(std::string_view original, size_t base, int section_index, Encoding& out) const {
  NString ns = NString::from(original, uint32_t(base));
  if (c_.config.remove_space) {
    // trim, then runs of whitespace to one space
    NString r;
    bool pending = false;
    for (size_t i = 0; i < ns.text.size();) {
      size_t len;
      char32_t c = decode_utf8(ns.text, i, len);
      if (is_js_space(c)) { pending = !r.empty(); i += len; continue; }
      if (pending) { r.push_byte(' ', ns.align[i]); pending = false; }
      r.text.append(ns.text, i, len);
      r.align.insert(r.align.end(), ns.align.begin() + i, ns.align.begin() + i + len);
      i += len;
    }
    ns = std::move(r);
  }
  if (c_.config.do_lowercase_and_remove_accent) {
    lowercase_js(ns);
    unicode_normalize(ns, UForm::NFD);
    NString r;
    for (size_t i = 0; i < ns.text.size();) {
      size_t len;
      char32_t c = decode_utf8(ns.text, i, len);
      if (!is_mark(c)) { r.text.append(ns.text, i, len); r.align.insert(r.align.end(), ns.align.begin() + i, ns.align.begin() + i + len); }
      i += len;
    }
    ns = std::move(r);
  }
  if (c_.normalizer) c_.normalizer->normalize(ns);
  if (ns.empty()) return;
  std::vector<Section> subs;
  if (norm_splitter_.empty()) subs.push_back({0, ns.text.size(), -1});
  else sections_of(ns.text, norm_splitter_, c_.added, subs);
  for (const Section& s : subs) {
    if (s.token >= 0) {
      Align a = ns.span(s.b, s.e);
      emit_added(s.token, a.b, a.e, out);
      continue;
    }
    if (s.e == s.b) continue;
    if (subs.size() > 1) {
      if (const int32_t* idx = added_by_content_.find(std::string_view(ns.text).substr(s.b, s.e - s.b))) {
        Align a = ns.span(s.b, s.e);
        emit_added(*idx, a.b, a.e, out);
        continue;
      }
    }
    PreTokenized pt;
    pt.s = subs.size() == 1 ? std::move(ns) : ns.sub(s.b, s.e);
    pt.pieces.push_back({0, uint32_t(pt.s.text.size())});
    if (c_.pre_tokenizer) c_.pre_tokenizer->pre_tokenize(pt, section_index);
    model_pieces(pt, out);
  }
}

void PipelineTokenizer::model_pieces(const PreTokenized& pt, Encoding& out) const {
  thread_local std::vector<ModelToken> toks;
  for (Piece p : pt.pieces) {
    toks.clear();
    std::string_view piece = std::string_view(pt.s.text).substr(p.b, p.e - p.b);
    c_.model->tokenize(piece, toks);
    for (const ModelToken& t : toks) {
      out.ids.push_back(t.id);
      if (t.raw) out.tokens.emplace_back(piece.substr(t.b, t.e - t.b));
      else if (const std::string* s = c_.model->id_to_token(t.id)) out.tokens.push_back(*s);
      else out.tokens.emplace_back();
      Align a = pt.s.span(p.b + t.b, p.b + t.e);
      out.offsets.emplace_back(a.b, a.e);
    }
  }
}

Encoding PipelineTokenizer::finish(Encoding a, Encoding* b, bool add_special) const {
  post_->prepare(a);
  if (b) post_->prepare(*b);
  Encoding e = post_->join(std::move(a), b, add_special);
  return e;
}

Encoding PipelineTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return finish(encode_sequence(text), nullptr, add_special_tokens);
}

Encoding PipelineTokenizer::encode_pair(std::string_view text, std::string_view pair, bool add_special_tokens) const {
  Encoding b = encode_sequence(pair);
  return finish(encode_sequence(text), &b, add_special_tokens);
}

std::string PipelineTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special, std::optional<bool> cleanup) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int64_t id : ids) {
    const std::string* s = c_.model->id_to_token(id);
    std::string t = s ? *s : c_.model->unk_token();
    if (!s && t.empty()) continue;
    if (skip_special && special_contents_.count(t)) continue;
    toks.push_back(std::move(t));
  }
  std::string text;
  if (c_.decoder) {
    DecodeContext ctx{&added_contents_};
    c_.decoder->decode_chain(toks, ctx);
    for (auto& t : toks) text += t;
    const std::string& eow = c_.model->end_of_word_suffix();
    if (!eow.empty()) {
      std::string r;
      for (size_t pos = 0;;) {
        size_t f = text.find(eow, pos);
        if (f == std::string::npos) { r.append(text, pos, std::string::npos); break; }
        r.append(text, pos, f - pos);
        r += ' ';
        pos = f + eow.size();
      }
      text = std::move(r);
      if (skip_special) {
        size_t b = 0, e = text.size();
        while (b < e) { size_t l; if (!is_js_space(decode_utf8(text, b, l))) break; b += l; }
        while (e > b) {
          size_t k = e - 1;
          while (k > b && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
          size_t l;
          if (!is_js_space(decode_utf8(text, k, l))) break;
          e = k;
        }
        text = text.substr(b, e - b);
      }
    }
  } else {
    for (size_t i = 0; i < toks.size(); ++i) {
      if (i) text += ' ';
      text += toks[i];
    }
  }
  if (cleanup.value_or(c_.config.clean_up_tokenization_spaces)) text = clean_up_tokenization(std::move(text));
  return text;
}

std::optional<int64_t> PipelineTokenizer::token_to_id(std::string_view token) const {
  auto id = c_.model->token_to_id(token);
  return id ? std::optional<int64_t>(*id) : std::nullopt;
}
std::optional<std::string> PipelineTokenizer::id_to_token(int64_t id) const {
  const std::string* s = c_.model->id_to_token(id);
  return s ? std::optional<std::string>(*s) : std::nullopt;
}
size_t PipelineTokenizer::vocab_size() const { return c_.model->vocab_size(); }
// Without tokenizer_config.json, the special tokens transformers' tokenizer classes default to.
static std::optional<std::string> conventional(const std::vector<AddedToken>& added, std::initializer_list<const char*> names) {
  for (const char* n : names)
    for (auto& a : added) if (a.special && a.content == n) return a.content;
  return std::nullopt;
}
std::optional<int64_t> PipelineTokenizer::pad_token_id() const {
  if (c_.config.pad_token) if (auto id = token_to_id(*c_.config.pad_token)) return id;
  if (c_.padding && c_.padding->pad_id) return c_.padding->pad_id;
  if (auto t = conventional(c_.added, {"[PAD]", "<pad>", "<|pad|>"})) return token_to_id(*t);
  return std::nullopt;
}
std::optional<int64_t> PipelineTokenizer::mask_token_id() const {
  if (auto t = mask_token()) return token_to_id(*t);
  return std::nullopt;
}
std::optional<std::string> PipelineTokenizer::mask_token() const {
  if (c_.config.mask_token) return c_.config.mask_token;
  return conventional(c_.added, {"[MASK]", "<mask>"});
}
std::optional<size_t> PipelineTokenizer::model_max_length() const { return c_.config.model_max_length; }

}  // namespace kiln::tokenizers
