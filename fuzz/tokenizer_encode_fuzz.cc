// Random bytes (any UTF-8, malformed or not) through a WordPiece, a byte-level BPE and a Unigram
// tokenizer: encode, pair, truncate with stride, pad and decode must never crash, and every
// token's offsets must stay inside the text.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"

static std::unique_ptr<kiln::Tokenizer> load(const char* json, const char* name) {
  auto path = std::filesystem::temp_directory_path() / ("kiln-fuzz-" + std::string(name) + std::to_string(::getpid()) + ".json");
  { std::ofstream(path) << json; }
  auto t = kiln::Tokenizer::from_json_file(path.string());
  std::filesystem::remove(path);
  return t;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto wp = load(kiln::fuzz::kWordPieceJson, "wp");
  static auto bpe = load(kiln::fuzz::kByteLevelBpeJson, "bpe");
  static auto uni = load(kiln::fuzz::kUnigramJson, "uni");
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t half = size / 2;
  for (auto* t : {wp.get(), bpe.get(), uni.get()}) {
    try {
      kiln::Encoding e = t->encode(text);
      for (auto& o : e.offsets)
        if (o.first > o.second || o.second > text.size()) __builtin_trap();
      t->decode(e.ids, false);
      t->decode(e.ids, true);
      kiln::Encoding p = t->encode_pair(text.substr(0, half), text.substr(half));
      kiln::TruncationOptions tr;
      tr.max_length = 5 + size % 7;
      tr.stride = size % 3;
      tr.strategy = size % 2 ? "longest_first" : "only_second";
      t->truncate(p, tr, true);
      std::vector<kiln::Encoding> batch = {e, p};
      kiln::PaddingOptions pad;
      pad.pad_id = 0;
      pad.pad_to_multiple_of = 8;
      t->pad(batch, pad);
      t->decode({int64_t(size) - 3, 0, 1, 2, 1000000}, true);
    } catch (const kiln::Error&) {
    }
  }
  return 0;
}
