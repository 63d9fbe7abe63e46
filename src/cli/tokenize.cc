// kiln tokenize DIR [--json] [--pair] [--no-special] [--max-length N] [--decode [--skip-special]]
// Reads lines from stdin (split on "\n" only; "\r", NUL, U+2028 stay inside a line) and writes
// one result per line. With --pair each line is "text<TAB>pair". With --decode each line is a list
// of ids ("[1, 2, 3]" or "1 2 3") and the output is the decoded text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "kiln/tokenizer.h"

namespace {

std::vector<std::string> read_lines() {
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  if (all.empty()) return lines;
  if (all.back() == '\n') all.pop_back();
  size_t pos = 0;
  for (;;) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) { lines.push_back(all.substr(pos)); break; }
    lines.push_back(all.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::vector<int64_t> parse_ids(const std::string& line) {
  std::vector<int64_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    try {
      size_t used = 0;
      ids.push_back(std::stoll(cur, &used));
      if (used != cur.size()) throw std::invalid_argument(cur);
    } catch (const std::exception&) {
      throw kiln::BadInput("\"" + cur + "\" is not a token id; give ids as [1, 2, 3] or 1 2 3");
    }
    cur.clear();
  };
  for (char c : line) {
    if (c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\r') flush();
    else cur += c;
  }
  flush();
  return ids;
}

}  // namespace

KILN_COMMAND(tokenize_command, "tokenize", "Encode (or --decode) lines of stdin with a model folder's tokenizer") {
  struct Opts {
    std::string dir;
    bool json = false, pair = false, no_special = false, decode = false, skip_special = false, offsets = false;
    size_t max_length = 0;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("dir", o->dir, "folder with tokenizer.json (or vocab.txt, vocab.json + merges.txt, spiece.model), or a tokenizer.json")->required();
  sub.add_flag("--json", o->json, "one JSON object per line: input_ids, attention_mask, token_type_ids, tokens, decoded, decoded_skip_special");
  sub.add_flag("--pair", o->pair, "each line is TEXT<TAB>PAIR: encode the two as a pair");
  sub.add_flag("--no-special", o->no_special, "do not add the special tokens ([CLS], </s> ...)");
  sub.add_option("--max-length", o->max_length, "truncate to N tokens (longest_first)");
  sub.add_flag("--offsets", o->offsets, "also print each token's byte span in the line (--json)");
  sub.add_flag("--decode", o->decode, "lines are token ids; print the text they decode to");
  sub.add_flag("--skip-special", o->skip_special, "with --decode: leave special tokens out");
  return [o] {
    auto tok = kiln::Tokenizer::from_dir(o->dir);
    std::vector<std::string> lines = read_lines();
    std::string out;
    for (const std::string& line : lines) {
      if (o->decode) {
        std::string text = tok->decode(parse_ids(line), o->skip_special);
        if (o->json) out += nlohmann::json({{"text", text}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        else out += text;
        out += '\n';
        continue;
      }
      kiln::Encoding e;
      bool pair = false;
      if (o->pair) {
        size_t tab = line.find('\t');
        if (tab == std::string::npos) throw kiln::BadInput("--pair needs TEXT<TAB>PAIR on each line; a line has no tab");
        e = tok->encode_pair(std::string_view(line).substr(0, tab), std::string_view(line).substr(tab + 1), !o->no_special);
        pair = true;
      } else {
        e = tok->encode(line, !o->no_special);
      }
      if (o->max_length > 0) {
        kiln::TruncationOptions t;
        t.max_length = o->max_length;
        tok->truncate(e, t, pair);
      }
      if (!o->json) {
        for (size_t i = 0; i < e.size(); ++i) {
          if (i) out += ' ';
          out += e.tokens[i];
        }
        out += '\n';
        continue;
      }
      nlohmann::ordered_json j;
      j["input_ids"] = e.ids;
      j["attention_mask"] = e.attention_mask;
      if (tok->has_type_ids()) j["token_type_ids"] = e.type_ids;
      j["tokens"] = e.tokens;
      if (o->offsets) j["offsets"] = e.offsets;
      j["decoded"] = e.ids.empty() ? std::string() : tok->decode(e.ids, false);
      j["decoded_skip_special"] = e.ids.empty() ? std::string() : tok->decode(e.ids, true);
      out += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      out += '\n';
      if (out.size() > (1 << 20)) { std::fwrite(out.data(), 1, out.size(), stdout); out.clear(); }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  };
}
