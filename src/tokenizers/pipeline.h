// The tokenizer pipeline (Hugging Face `tokenizers` semantics, as its JavaScript port computes
// them): added tokens -> normalizer -> pre-tokenizer -> model -> post-processor; decoder back.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "tokenizers/added_tokens.h"
#include "tokenizers/decoders.h"
#include "tokenizers/model.h"
#include "tokenizers/normalizers.h"
#include "tokenizers/post_processors.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/tokenizer.h"

namespace kiln::tokenizers {

// What tokenizer_config.json / special_tokens_map.json add.
struct TokenizerConfig {
  bool clean_up_tokenization_spaces = true;
  bool remove_space = false;
  bool do_lowercase_and_remove_accent = false;
  std::vector<std::string> additional_special_tokens;
  std::optional<std::string> pad_token, mask_token, unk_token, eos_token, bos_token;
  std::optional<size_t> model_max_length;
};
TokenizerConfig read_tokenizer_config(const std::string& dir);  // missing files: defaults

struct Components {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;  // null: plain concatenation
  std::unique_ptr<Decoder> decoder;               // null: tokens joined by spaces
  std::vector<AddedToken> added;
  TokenizerConfig config;
  std::optional<TruncationOptions> truncation;  // from tokenizer.json
  std::optional<PaddingOptions> padding;
};

class PipelineTokenizer : public Tokenizer {
 public:
  explicit PipelineTokenizer(Components c);

  Encoding encode(std::string_view text, bool add_special_tokens = true) const override;
  Encoding encode_pair(std::string_view text, std::string_view pair, bool add_special_tokens = true) const override;
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true,
                                     const std::optional<TruncationOptions>& truncation = std::nullopt,
                                     const std::optional<PaddingOptions>& padding = std::nullopt) const override;
  void truncate(Encoding& e, const TruncationOptions& t, bool is_pair) const override;
  void pad(std::vector<Encoding>& batch, const PaddingOptions& p) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false,
                     std::optional<bool> clean_up_tokenization_spaces = std::nullopt) const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(int64_t id) const override;
  size_t vocab_size() const override;
  std::optional<int64_t> pad_token_id() const override;
  std::optional<int64_t> mask_token_id() const override;
  std::optional<std::string> mask_token() const override;
  std::optional<size_t> model_max_length() const override;

  // Whether the reference reports token_type_ids for this tokenizer (its post-processor makes them).
  bool has_type_ids() const override { return post_ && post_->gives_type_ids(); }
  // Tokens of one sequence, before the post-processor (ids, tokens, offsets).
  Encoding encode_sequence(std::string_view text) const;
  // Number of special tokens the post-processor adds.
  size_t num_special_tokens(bool pair) const { return post_ ? post_->num_special(pair) : 0; }
  const std::optional<TruncationOptions>& default_truncation() const { return c_.truncation; }
  const std::optional<PaddingOptions>& default_padding() const { return c_.padding; }

 private:
  void encode_section(std::string_view original, size_t base, int section_index, Encoding& out) const;
  void model_pieces(const PreTokenized& pt, Encoding& out) const;
  void emit_added(int32_t index, size_t b, size_t e, Encoding& out) const;
  Encoding finish(Encoding a, Encoding* b, bool add_special) const;

  Components c_;
  const PostProcessor* post_;
  std::unique_ptr<PostProcessor> default_post_;
  AddedSplitter raw_splitter_, norm_splitter_;
  StrMap added_by_content_;  // content (and normalized content) -> index in c_.added
  std::unordered_set<std::string> added_contents_;
  std::unordered_set<std::string> special_contents_;
};

// tokenizer.json (parsed) + the folder's tokenizer_config.json.
std::unique_ptr<PipelineTokenizer> load_tokenizer_json(const json& j, TokenizerConfig cfg);

}  // namespace kiln::tokenizers
