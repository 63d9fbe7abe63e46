#include "eval/synthetic_input.h"

#include "core/error.h"

namespace kiln::eval {

namespace {

std::string repeat(const std::string& word, size_t n, const std::string& last) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + (i + 1 == n && !last.empty() ? last : word);
  return s;
}

}  // namespace

PipelineInput synthetic_input(const ModelFolder& folder, const Tokenizer* tokenizer, const std::string& task,
                              size_t seq_len, bool* is_text) {
  KILN_CHECK(seq_len > 0, BadInput, "--seq-len must be at least 1");
  KILN_CHECK(task != "question-answering", Unsupported,
             "kiln bench makes no synthetic question-answering inputs; give --data with question and context columns");
  *is_text = false;
  const bool generation = task.find("generation") != std::string::npos || task == "summarization" ||
                          task.rfind("translation", 0) == 0;
  const std::string prefix = generation && task != "text-generation" ? folder.prefix() : "";
  if (tokenizer) {
    const Tokenizer& tok = *tokenizer;
    std::string last;
    if (task == "fill-mask") {
      KILN_CHECK(tok.mask_token().has_value(), BadModel, "{}: the tokenizer has no mask token; fill-mask needs one",
                 folder.path());
      last = *tok.mask_token();
    }
    auto length = [&](const std::string& text) {
      return tok.encode(prefix + text).ids.size();
    };
    for (const char* word : {"hello", "the", "a", "x", "test", "one"}) {
      size_t base = length(repeat(word, 1, last));  // one word with special tokens and prefix
      if (base > seq_len) continue;
      // Most tokenizers give one token per repeated word; look a little around that guess.
      for (size_t n = seq_len - base + 1, tries = 0; n >= 1 && tries < 6; ++tries, --n) {
        std::string text = repeat(word, n, last);
        size_t got = length(text);
        if (got == seq_len) {
          *is_text = true;
          return PipelineInput(text);
        }
        if (got < seq_len) break;
      }
    }
  }
  // Token ids: a plain vocabulary id repeated (the mask id last for fill-mask).
  int64_t vocab = folder.vocab_size() > 0 ? folder.vocab_size() : 1000;
  std::vector<int64_t> ids(seq_len, std::min<int64_t>(1000, vocab - 1));
  if (task == "fill-mask" && tokenizer && tokenizer->mask_token_id()) ids.back() = *tokenizer->mask_token_id();
  return PipelineInput::from_ids(ids);
}

}  // namespace kiln::eval
