// Folders without tokenizer.json: vocab.txt (BERT WordPiece), vocab.json + merges.txt (byte-level
// BPE, GPT-2 / RoBERTa), spiece.model / sentencepiece.bpe.model (SentencePiece Unigram). Each is turned into the same pipeline tokenizer.json describes for that model,
// so both routes give the same ids.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizers/pipeline.h"

namespace kiln::tokenizers {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError("cannot read " + p.string() + "; check the path and permissions");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string config_class(const fs::path& dir) {
  if (!fs::exists(dir / "tokenizer_config.json")) return "";
  try {
    json j = json::parse(slurp(dir / "tokenizer_config.json"));
    if (j.is_object() && j.contains("tokenizer_class") && j["tokenizer_class"].is_string()) return j["tokenizer_class"].get<std::string>();
  } catch (const json::exception&) {
  }
  return "";
}

json config_json(const fs::path& dir) {
  if (!fs::exists(dir / "tokenizer_config.json")) return json::object();
  try {
    return json::parse(slurp(dir / "tokenizer_config.json"));
  } catch (const json::exception& e) {
    throw BadModel((dir / "tokenizer_config.json").string() + " is not valid JSON (" + e.what() + ")");
  }
}

AddedToken special(const std::string& content, int32_t id, bool lstrip = false) {
  AddedToken a;
  a.content = content;
  a.id = id;
  a.special = true;
  a.lstrip = lstrip;
  return a;
}

std::unique_ptr<PipelineTokenizer> load_vocab_txt(const fs::path& dir, TokenizerConfig cfg) {
  std::istringstream in(slurp(dir / "vocab.txt"));
  WordPieceConfig wp;
  std::string line;
  int32_t id = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    wp.vocab.emplace_back(line, id++);
  }
  json cj = config_json(dir);
  bool lower = cj.value("do_lower_case", true);
  int strip = -1;
  if (cj.contains("strip_accents") && cj["strip_accents"].is_boolean()) strip = cj["strip_accents"].get<bool>() ? 1 : 0;
  bool chinese = cj.value("tokenize_chinese_chars", true);
  std::string unk = cfg.unk_token.value_or("[UNK]"), cls = "[CLS]", sep = "[SEP]", pad = cfg.pad_token.value_or("[PAD]"),
              mask = cfg.mask_token.value_or("[MASK]");
  if (cj.contains("cls_token") && cj["cls_token"].is_string()) cls = cj["cls_token"].get<std::string>();
  if (cj.contains("sep_token") && cj["sep_token"].is_string()) sep = cj["sep_token"].get<std::string>();
  wp.unk_token = unk;
  Components c;
  c.model = make_wordpiece(wp, "vocab.txt");
  for (const std::string& t : {pad, unk, cls, sep, mask})
    if (auto i = c.model->token_to_id(t)) c.added.push_back(special(t, *i));
  auto cls_id = c.model->token_to_id(cls), sep_id = c.model->token_to_id(sep);
  if (!cls_id || !sep_id) throw BadModel("vocab.txt has no " + cls + " or " + sep + " token; is this a BERT vocabulary?");
  c.normalizer = make_bert_normalizer(true, chinese, strip, lower);
  c.pre_tokenizer = make_bert_pre_tokenizer();
  c.post_processor = make_bert_processing(cls, *cls_id, sep, *sep_id);
  c.decoder = make_wordpiece_decoder("##", true);
  if (!cfg.pad_token) cfg.pad_token = pad;
  if (!cfg.mask_token) cfg.mask_token = mask;
  c.config = std::move(cfg);
  return std::make_unique<PipelineTokenizer>(std::move(c));
}

std::unique_ptr<PipelineTokenizer> load_vocab_merges(const fs::path& dir, TokenizerConfig cfg) {
  BpeConfig b;
  json v;
  try {
    v = json::parse(slurp(dir / "vocab.json"));
  } catch (const json::exception& e) {
    throw BadModel((dir / "vocab.json").string() + " is not valid JSON (" + e.what() + ")");
  }
  if (!v.is_object()) throw BadModel("vocab.json must be an object of token: id");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer()) throw BadModel("vocab.json: \"" + it.key() + "\" must map to an integer id");
    b.vocab.emplace_back(it.key(), it.value().get<int32_t>());
  }
  std::istringstream in(slurp(dir / "merges.txt"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) throw BadModel("merges.txt: line \"" + line + "\" is not \"a b\"");
    b.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  json cj = config_json(dir);
  std::string cls = config_class(dir);
  bool add_prefix = cj.value("add_prefix_space", false);
  Components c;
  c.model = make_bpe(std::move(b), "vocab.json");
  auto id_of = [&](const std::string& t) { return c.model->token_to_id(t); };
  bool roberta = cls.find("Roberta") != std::string::npos || cls.find("Bart") != std::string::npos ||
                 (cls.empty() && id_of("<s>") && id_of("</s>") && id_of("<mask>"));
  if (roberta) {
    for (const char* t : {"<s>", "<pad>", "</s>", "<unk>"})
      if (auto i = id_of(t)) c.added.push_back(special(t, *i));
    if (auto i = id_of("<mask>")) c.added.push_back(special("<mask>", *i, true));
    auto s = id_of("<s>"), e = id_of("</s>");
    if (!s || !e) throw BadModel("vocab.json has no <s> or </s>; is this a RoBERTa vocabulary?");
    c.post_processor = make_roberta_processing("<s>", *s, "</s>", *e, true);
    if (!cfg.pad_token) cfg.pad_token = "<pad>";
    if (!cfg.mask_token) cfg.mask_token = "<mask>";
  } else {
    if (auto i = id_of("<|endoftext|>")) c.added.push_back(special("<|endoftext|>", *i));
    json bl = {{"type", "ByteLevel"}, {"trim_offsets", false}};
    c.post_processor = make_post_processor(bl, [](const std::string&) { return std::nullopt; });
  }
  c.pre_tokenizer = make_byte_level_pre_tokenizer(add_prefix, true);
  c.decoder = make_byte_level_decoder();
  c.config = std::move(cfg);
  return std::make_unique<PipelineTokenizer>(std::move(c));
}

// SentencePiece's ModelProto, read from the protobuf wire format: Debian's libsentencepiece
// bundles its own protobuf runtime (3.14), which cannot share a process with the libprotobuf (3.21)
// kiln's ONNX code links, so kiln reads the few fields it needs itself.
struct SpPiece {
  std::string piece;
  float score = 0;
  int type = 1;  // 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
};
struct SpSpec {
  std::vector<SpPiece> pieces;
  std::string charsmap;
  int model_type = 1;  // 1 unigram, 2 bpe, 3 word, 4 char
  bool byte_fallback = false;
  bool add_dummy_prefix = true;
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
};
bool read_varint(std::string_view s, size_t& i, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && i < s.size(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(s[i++]);
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}
// Calls f(field, wire type, varint value, bytes) for each field of a protobuf message; false when
// the message is malformed (cut short, a length past its end, a group or unknown wire type), so a
// damaged file is refused rather than read as far as it happens to parse.
template <class F>
bool for_fields(std::string_view s, F f) {
  for (size_t i = 0; i < s.size();) {
    uint64_t key;
    if (!read_varint(s, i, key)) return false;
    uint32_t field = uint32_t(key >> 3), wt = uint32_t(key & 7);
    if (field == 0) return false;
    uint64_t v = 0;
    std::string_view bytes;
    if (wt == 0) { if (!read_varint(s, i, v)) return false; }
    else if (wt == 1) { if (i + 8 > s.size()) return false; i += 8; }
    else if (wt == 5) { if (i + 4 > s.size()) return false; bytes = s.substr(i, 4); i += 4; }
    else if (wt == 2) {
      if (!read_varint(s, i, v) || v > s.size() - i) return false;
      bytes = s.substr(i, size_t(v));
      i += size_t(v);
    } else return false;
    if (!f(field, wt, v, bytes)) return false;
  }
  return true;
}
SpSpec read_spec(const std::string& proto, const fs::path& file) {
  SpSpec spec;
  bool trainer = false, normalizer = false;
  bool ok = for_fields(proto, [&](uint32_t field, uint32_t wt, uint64_t, std::string_view b) {
    if (field == 1 && wt == 2) {
      SpPiece p;
      bool has_piece = false;
      bool piece_ok = for_fields(b, [&](uint32_t f2, uint32_t w2, uint64_t v2, std::string_view b2) {
        if (f2 == 1 && w2 == 2) p.piece.assign(b2), has_piece = true;
        if (f2 == 2 && w2 == 5) std::memcpy(&p.score, b2.data(), 4);
        if (f2 == 3 && w2 == 0) p.type = int(v2);
        return true;
      });
      if (!piece_ok || !has_piece) return false;
      spec.pieces.push_back(std::move(p));
    }
    if (field == 2 && wt == 2) {
      trainer = true;
      return for_fields(b, [&](uint32_t f2, uint32_t w2, uint64_t v2, std::string_view) {
        if (w2 != 0) return true;
        if (f2 == 3) spec.model_type = int(v2);
        if (f2 == 35) spec.byte_fallback = v2 != 0;
        if (f2 == 40) spec.unk_id = int(int32_t(v2));
        if (f2 == 41) spec.bos_id = int(int32_t(v2));
        if (f2 == 42) spec.eos_id = int(int32_t(v2));
        if (f2 == 43) spec.pad_id = int(int32_t(v2));
        return true;
      });
    }
    if (field == 3 && wt == 2) {
      normalizer = true;
      return for_fields(b, [&](uint32_t f2, uint32_t w2, uint64_t v2, std::string_view b2) {
        if (f2 == 2 && w2 == 2) spec.charsmap.assign(b2);
        if (f2 == 3 && w2 == 0) spec.add_dummy_prefix = v2 != 0;
        return true;
      });
    }
    return true;
  });
  if (!ok)
    throw BadModel(file.string() + " is damaged (not a complete SentencePiece model: cut short or corrupt); download or copy it again");
  // spm_train writes the pieces, then trainer_spec, then normalizer_spec: a file cut between two
  // fields still parses, but lacks the specs that follow.
  if (!spec.pieces.empty() && (!trainer || !normalizer))
    throw BadModel(file.string() + " is incomplete (no " + (trainer ? "normalizer_spec" : "trainer_spec") +
                   " after the pieces: cut short?); download or copy it again");
  return spec;
}

// XLM-RoBERTa / CamemBERT style (sentencepiece.bpe.model with fairseq ids): <s>=0 <pad>=1 </s>=2
// <unk>=3, SentencePiece piece i (i >= 3) at id i + 1, <mask> last; <s> A </s> (</s> B </s>).
std::unique_ptr<PipelineTokenizer> load_fairseq_spiece(const fs::path& file, const SpSpec& spec, TokenizerConfig cfg) {
  UnigramConfig u;
  for (const char* t : {"<s>", "<pad>", "</s>", "<unk>"}) u.vocab.emplace_back(t, 0.0);
  for (size_t i = 3; i < spec.pieces.size(); ++i) u.vocab.emplace_back(spec.pieces[i].piece, double(spec.pieces[i].score));
  u.vocab.emplace_back("<mask>", 0.0);
  int32_t mask_id = int32_t(u.vocab.size() - 1);
  u.unk_id = 3;
  Components c;
  c.model = make_unigram(std::move(u), file.filename().string());
  c.added = {special("<s>", 0), special("<pad>", 1), special("</s>", 2), special("<unk>", 3), special("<mask>", mask_id, true)};
  std::vector<std::unique_ptr<Normalizer>> norm;
  if (!spec.charsmap.empty()) norm.push_back(make_precompiled_normalizer(spec.charsmap, file.filename().string() + " charsmap"));
  c.normalizer = make_sequence_normalizer(std::move(norm));
  std::vector<std::unique_ptr<PreTokenizer>> pre;
  pre.push_back(make_whitespace_split_pre_tokenizer());
  pre.push_back(make_metaspace_pre_tokenizer("\xE2\x96\x81", "always", false));
  c.pre_tokenizer = make_sequence_pre_tokenizer(std::move(pre));
  c.decoder = make_metaspace_decoder("\xE2\x96\x81");
  c.post_processor = make_roberta_processing("<s>", 0, "</s>", 2, false);
  if (!cfg.pad_token) cfg.pad_token = "<pad>";
  if (!cfg.mask_token) cfg.mask_token = "<mask>";
  c.config = std::move(cfg);
  return std::make_unique<PipelineTokenizer>(std::move(c));
}

std::unique_ptr<PipelineTokenizer> load_spiece(const fs::path& file, TokenizerConfig cfg) {
  SpSpec spec = read_spec(slurp(file), file);
  int n = int(spec.pieces.size());
  if (n == 0) throw BadModel(file.string() + " is not a SentencePiece model (no pieces found); check the file");
  if (spec.model_type != 1)
    throw Unsupported(file.string() + " is a SentencePiece BPE/word/char model; kiln reads Unigram .model files, so use the folder's tokenizer.json");
  std::string cls = config_class(file.parent_path());
  if (file.filename() == "sentencepiece.bpe.model" || cls.find("XLMRoberta") != std::string::npos || cls.find("Camembert") != std::string::npos)
    return load_fairseq_spiece(file, spec, std::move(cfg));
  auto piece = [&](int i) -> const std::string& { return spec.pieces[size_t(i)].piece; };
  UnigramConfig u;
  for (auto& p : spec.pieces) u.vocab.emplace_back(p.piece, double(p.score));
  if (spec.unk_id >= 0 && spec.unk_id < n) u.unk_id = spec.unk_id;
  u.byte_fallback = spec.byte_fallback;
  Components c;
  c.model = make_unigram(std::move(u), file.filename().string());
  for (int i = 0; i < n; ++i)
    if (spec.pieces[size_t(i)].type == 2 || spec.pieces[size_t(i)].type == 3) c.added.push_back(special(piece(i), i));
  // T5's extra ids: <extra_id_0> is the last id, <extra_id_99> the first after the pieces.
  std::vector<std::string> extra;
  for (auto& t : cfg.additional_special_tokens) if (t.rfind("<extra_id_", 0) == 0) extra.push_back(t);
  for (auto& t : extra) {
    int k = std::atoi(t.c_str() + 10);
    if (k < 0 || size_t(k) >= extra.size()) continue;
    c.added.push_back(special(t, int32_t(n + int(extra.size()) - 1 - k)));
  }
  if (!spec.charsmap.empty()) c.normalizer = make_precompiled_normalizer(spec.charsmap, file.filename().string() + " charsmap");
  std::vector<std::unique_ptr<PreTokenizer>> pre;
  pre.push_back(make_whitespace_split_pre_tokenizer());
  pre.push_back(make_metaspace_pre_tokenizer("\xE2\x96\x81", spec.add_dummy_prefix ? "always" : "never", false));
  c.pre_tokenizer = make_sequence_pre_tokenizer(std::move(pre));
  c.decoder = make_metaspace_decoder("\xE2\x96\x81");
  if (spec.eos_id >= 0 && spec.eos_id < n) c.post_processor = make_suffix_processing(piece(spec.eos_id), spec.eos_id);
  if (!cfg.pad_token && spec.pad_id >= 0 && spec.pad_id < n) cfg.pad_token = piece(spec.pad_id);
  c.config = std::move(cfg);
  return std::make_unique<PipelineTokenizer>(std::move(c));
}

}  // namespace
}  // namespace kiln::tokenizers

namespace kiln {

std::unique_ptr<Tokenizer> Tokenizer::from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  if (!fs::is_directory(d)) {
    if (fs::is_regular_file(d) && d.extension() == ".json") return from_json_file(dir);
    throw IoError(dir + " is not a folder; pass a model folder with tokenizer.json or vocabulary files");
  }
  if (fs::exists(d / "tokenizer.json")) return from_json_file((d / "tokenizer.json").string());
  auto cfg = tokenizers::read_tokenizer_config(dir);
  if (fs::exists(d / "vocab.txt")) return tokenizers::load_vocab_txt(d, std::move(cfg));
  if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) return tokenizers::load_vocab_merges(d, std::move(cfg));
  for (const char* f : {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"})
    if (fs::exists(d / f)) return tokenizers::load_spiece(d / f, std::move(cfg));
  throw IoError(dir + " has no tokenizer.json, vocab.txt, vocab.json + merges.txt or spiece.model; copy the tokenizer files into it");
}

}  // namespace kiln
