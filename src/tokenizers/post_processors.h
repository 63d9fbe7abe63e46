// Post-processors of tokenizer.json: TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel (offset trimming), Sequence. They join the encodings of a text (and its pair) and add
// the special tokens, type ids and special-token mask.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tokenizers/json_util.h"
#include "tokenizers/tokenizer.h"

namespace kiln::tokenizers {

using TokenLookup = std::function<std::optional<int64_t>(const std::string&)>;

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Adjusts one sequence's encoding before joining (ByteLevel trims offsets).
  virtual void prepare(Encoding& e) const {}
  // Joins (b may be null) adding special tokens when add_special.
  virtual Encoding join(Encoding a, Encoding* b, bool add_special) const = 0;
  // How many special tokens join() adds.
  virtual size_t num_special(bool pair) const = 0;
  // Whether the reference reports token_type_ids for this post-processor.
  virtual bool gives_type_ids() const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const TokenLookup& lookup, const std::string& where = "post_processor");
// No post-processor: a and b concatenated, type ids 0 and 1.
std::unique_ptr<PostProcessor> make_default_post_processor();
// [cls] A [sep] (B [sep]) / RoBERTa: <s> A </s> (</s> B </s>) / T5: A </s> (B </s>).
std::unique_ptr<PostProcessor> make_bert_processing(std::string cls, int64_t cls_id, std::string sep, int64_t sep_id);
std::unique_ptr<PostProcessor> make_roberta_processing(std::string cls, int64_t cls_id, std::string sep, int64_t sep_id, bool trim_offsets);
std::unique_ptr<PostProcessor> make_suffix_processing(std::string eos, int64_t eos_id);

// Appends src to dst (all per-token fields), with this type id and sequence id.
void append_encoding(Encoding& dst, const Encoding& src, int64_t type_id, int seq_id);
void append_special(Encoding& dst, int64_t id, const std::string& tok, int64_t type_id);

}  // namespace kiln::tokenizers
