// Decoders of tokenizer.json: WordPiece, ByteLevel, Metaspace, BPEDecoder, Replace, Fuse, Strip,
// ByteFallback, CTC, Sequence. Each turns a list of token strings into a list of text pieces.
#pragma once
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "tokenizers/json_util.h"

namespace kiln::tokenizers {

struct DecodeContext {
  // Contents of all added tokens: ByteLevel passes them through as they are.
  const std::unordered_set<std::string>* added = nullptr;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens, const DecodeContext& ctx) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where = "decoder");
std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup);
std::unique_ptr<Decoder> make_byte_level_decoder();
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement);

// Hugging Face's clean_up_tokenization: " ." -> "." and the like.
std::string clean_up_tokenization(std::string s);

}  // namespace kiln::tokenizers
