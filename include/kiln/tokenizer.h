// kiln/tokenizer.h: text to token ids and back, with Hugging Face `tokenizers` semantics.
//
//   auto tok = kiln::Tokenizer::from_dir("model_dir");
//   kiln::Encoding e = tok->encode("Hello world");   // e.ids, e.tokens, e.attention_mask, e.offsets
//   std::string text = tok->decode(e.ids, /*skip_special_tokens=*/true);
//
// Reads tokenizer.json (normalizers, pre-tokenizers, models, post-processors, decoders, added
// tokens), the legacy vocab files and SentencePiece .model files (implemented in src/tokenizers).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiln/api.h"

namespace kiln {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
  std::vector<int64_t> type_ids;
  std::vector<int64_t> attention_mask;
  std::vector<int64_t> special_tokens_mask;
  // Byte span [begin, end) of each token in the original text of its sequence ((0, 0) for
  // special tokens), and which sequence (0 or 1) it came from (-1 for special tokens).
  std::vector<std::pair<size_t, size_t>> offsets;
  std::vector<int> sequence_ids;
  // Windows beyond the first when truncation has a stride (return_overflowing_tokens).
  std::vector<Encoding> overflowing;

  size_t size() const { return ids.size(); }
};

struct TruncationOptions {
  size_t max_length = 512;
  std::string strategy = "longest_first";  // longest_first | only_first | only_second
  size_t stride = 0;
  std::string direction = "right";  // right | left
};

struct PaddingOptions {
  std::string strategy = "longest";  // longest | max_length
  size_t max_length = 0;
  size_t pad_to_multiple_of = 0;
  std::string direction = "right";  // right | left
  // Pad id/token/type; taken from the tokenizer (its padding section or pad token) when unset.
  std::optional<int64_t> pad_id;
  std::optional<std::string> pad_token;
  int64_t pad_type_id = 0;
};

class KILN_API Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads a model folder: tokenizer.json (+ tokenizer_config.json / special_tokens_map.json), or the
  // legacy files (vocab.txt; vocab.json + merges.txt; spiece.model / sentencepiece.bpe.model).
  // Throws BadModel naming the file and field that is wrong, IoError when nothing usable is there.
  static std::unique_ptr<Tokenizer> from_dir(const std::string& dir);
  static std::unique_ptr<Tokenizer> from_json_file(const std::string& path);

  virtual Encoding encode(std::string_view text, bool add_special_tokens = true) const = 0;
  virtual Encoding encode_pair(std::string_view text, std::string_view pair, bool add_special_tokens = true) const = 0;
  // Encodes many texts (in parallel), then truncates and pads them together.
  virtual std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true,
                                             const std::optional<TruncationOptions>& truncation = std::nullopt,
                                             const std::optional<PaddingOptions>& padding = std::nullopt) const = 0;
  // Truncation and padding applied to encodings made by encode()/encode_pair().
  virtual void truncate(Encoding& e, const TruncationOptions& t, bool is_pair) const = 0;
  virtual void pad(std::vector<Encoding>& batch, const PaddingOptions& p) const = 0;

  // clean_up_tokenization_spaces: nullopt = the tokenizer's own setting (tokenizer_config.json).
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false,
                             std::optional<bool> clean_up_tokenization_spaces = std::nullopt) const = 0;

  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int64_t id) const = 0;
  virtual size_t vocab_size() const = 0;

  // Special tokens as tokenizer_config.json / special_tokens_map.json name them (nullopt if none).
  virtual std::optional<int64_t> pad_token_id() const = 0;
  virtual std::optional<int64_t> mask_token_id() const = 0;
  virtual std::optional<std::string> mask_token() const = 0;
  // model_max_length from tokenizer_config.json (nullopt when absent or "infinite").
  virtual std::optional<size_t> model_max_length() const = 0;
  // Whether encodings carry meaningful token_type_ids (the tokenizer's post-processor makes them,
  // e.g. BERT's pairs); a model folder's graph may still take them.
  virtual bool has_type_ids() const { return true; }
};

}  // namespace kiln
