// Random bytes as tokenizer.json: load or throw a kiln error; what loads must encode and decode
// its own text without crashing.
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "tokenizers/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = (std::filesystem::temp_directory_path() / ("kiln-fuzz-tok-" + std::to_string(::getpid()) + ".json")).string();
  std::string body(reinterpret_cast<const char*>(data), size);
  { std::ofstream(path, std::ios::binary) << body; }
  try {
    auto tok = kiln::Tokenizer::from_json_file(path);
    std::string text = body.substr(0, 256);
    kiln::Encoding e = tok->encode(text);
    tok->decode(e.ids, false);
    tok->decode(e.ids, true);
    tok->encode_pair(text, text);
  } catch (const kiln::Error&) {
  }
  return 0;
}
