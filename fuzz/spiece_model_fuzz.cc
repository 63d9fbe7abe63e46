// Random bytes as a SentencePiece spiece.model (the protobuf, its pieces, trainer and normalizer
// specs, the precompiled charsmap): loading must succeed or throw a kiln error, and a model that
// loads must encode and decode odd text (the input's own bytes included) without crashing, with
// every token's offsets inside its text. Seeds: fuzz/corpus/spiece_model (written by
// tests/hardening/spiece_model.h; the repository holds no real .model file).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "tokenizers/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = fs::temp_directory_path() / ("kiln-fuzz-spiece-" + std::to_string(::getpid()));
  static const bool made = fs::create_directories(dir) || fs::is_directory(dir);
  if (!made) return 0;
  std::string body(reinterpret_cast<const char*>(data), size);
  { std::ofstream(dir / "spiece.model", std::ios::binary | std::ios::trunc) << body; }
  try {
    auto tok = kiln::Tokenizer::from_dir(dir.string());
    std::string tail = body.substr(body.size() > 48 ? body.size() - 48 : 0);
    for (const std::string& text : {std::string("Hello world. A ab \xE2\x96\x81 \xE4\xB8\xAD"), tail}) {
      kiln::Encoding e = tok->encode(text);
      for (auto& o : e.offsets)
        if (o.first > o.second || o.second > text.size()) __builtin_trap();
      tok->decode(e.ids, false);
      tok->decode(e.ids, true);
      tok->encode_pair(text, "b a");
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}
