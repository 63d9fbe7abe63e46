// kiln/pipeline.h: transformers' pipeline() in C++ — a task over a model folder, text in, typed
// results out.
//
//   auto clf = kiln::pipeline("text-classification", "model_dir", {.threads = 2});
//   for (const kiln::LabelScore& ls : clf->classify({"I love this"})[0])
//     std::cout << ls.label << " " << ls.score << "\n";     // best first
//   std::string json = clf->run_json({"I love this"})[0];  // [{"label": "POSITIVE", "score": 0.98}]
//
// Tasks: text-classification (sentiment-analysis), token-classification (ner), question-answering,
// feature-extraction, fill-mask, text2text-generation, summarization, translation[_xx_to_yy],
// text-generation. Each task answers one typed call (classify, tag, answer, embed, fill, generate);
// the others throw Unsupported. run_json() gives every task's results in transformers' JSON shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/api.h"
#include "kiln/tokenizer.h"

namespace kiln {

// Generation settings by their transformers names (GenerationConfig / generate() kwargs), with
// transformers 4.25's defaults. One struct all the way, filled in layers, each a GenerationOptions
// whose set fields replace what the layers below said:
//   these defaults < config.json < generation_config.json < config.json's task_specific_params[task]
//   < PipelineOptions::generation < the overrides of one generate() call.
// (generation_config.json, when present, is the model's own generation config in transformers; the
// generation fields of config.json are its fallback.) Pipeline::generation_config() is the result
// of all but the last layer.
struct GenerationConfig {
  int64_t max_length = 20;                // total length, start ids included
  std::optional<int64_t> max_new_tokens;  // when set, wins over max_length
  int64_t min_length = 0;                 // eos is banned while the sequence is shorter
  std::optional<int64_t> min_new_tokens;  // when set, wins over min_length
  bool do_sample = false;
  int num_beams = 1;
  float temperature = 1.0f;
  int top_k = 50;      // sampling only; 0 = off
  float top_p = 1.0f;  // sampling only; 1 = off
  float repetition_penalty = 1.0f;
  int no_repeat_ngram_size = 0;
  float length_penalty = 1.0f;
  bool early_stopping = false;
  int num_return_sequences = 1;
  std::vector<std::vector<int64_t>> bad_words_ids;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::vector<int64_t> eos_token_ids;  // any of them ends a sequence
  std::optional<int64_t> decoder_start_token_id;
  std::optional<int64_t> forced_bos_token_id;
  std::optional<int64_t> forced_eos_token_id;
  std::optional<uint64_t> seed;  // sampling; nullopt = a random seed
  bool use_cache = true;
  // Tokens set to -inf on the raw logits before anything else (a model's
  // adjust_logits_during_generation: Marian never generates its pad token).
  std::vector<int64_t> banned_raw_token_ids;

  bool is_eos(int64_t id) const {
    for (int64_t e : eos_token_ids)
      if (e == id) return true;
    return false;
  }
  // Total-length limits for generation that starts from `start_len` ids.
  int64_t effective_max_length(int64_t start_len) const {
    return max_new_tokens ? start_len + *max_new_tokens : max_length;
  }
  int64_t effective_min_length(int64_t start_len) const {
    return min_new_tokens ? start_len + *min_new_tokens : min_length;
  }
};

// One layer of generation settings: only the fields set here replace those below. The same struct
// is read from a model's config files (from_json), set from command-line strings (set) and given by
// callers (PipelineOptions::generation, generate()'s overrides).
struct KILN_API GenerationOptions {
  std::optional<int64_t> max_new_tokens, max_length, min_new_tokens, min_length;
  std::optional<int> num_beams, num_return_sequences, top_k, no_repeat_ngram_size;
  std::optional<bool> do_sample, early_stopping, use_cache;
  std::optional<float> temperature, top_p, repetition_penalty, length_penalty;
  std::optional<std::vector<std::vector<int64_t>>> bad_words_ids;
  std::optional<int64_t> forced_bos_token_id, forced_eos_token_id, pad_token_id, decoder_start_token_id;
  std::optional<std::vector<int64_t>> eos_token_ids;
  std::optional<uint64_t> seed;
  std::optional<int64_t> bos_token_id;  // (last, so that positional initialisation of the above keeps its meaning)

  // Sets one field from text, by its transformers name: max_new_tokens, max_length, min_new_tokens,
  // min_length, num_beams, num_return_sequences, do_sample, temperature, top_k, top_p,
  // repetition_penalty, no_repeat_ngram_size, length_penalty, early_stopping, bad_words_ids,
  // bos_token_id, eos_token_id (or eos_token_ids), pad_token_id, decoder_start_token_id,
  // forced_bos_token_id, forced_eos_token_id, use_cache, seed. A leading "--" and '-' for '_' are
  // accepted, so command-line flags map one to one. Values: integers, decimals, true/false (1/0);
  // eos_token_id a comma-separated list ("1,2"); bad_words_ids sequences separated by ';' ("5,6;7").
  // Throws BadInput naming the setting and what it takes.
  void set(const std::string& name, const std::string& value);
  // The names set() knows, in the order above.
  static const std::vector<std::string>& names();

  // The generation fields of a config.json, generation_config.json or task_specific_params object
  // (JSON text), read as transformers reads them: eos_token_id an id or a list, a list where one id
  // is wanted gives its first, early_stopping "never" is false, null is "not set"; other keys are
  // ignored. Throws BadModel for text that is not a JSON object or a field of the wrong type.
  static GenerationOptions from_json(const std::string& json_object);

  // The overrides merge: the set fields of `later` replace these (a later max_length unsets
  // max_new_tokens, a later min_length min_new_tokens, as in apply_to).
  GenerationOptions& merge(const GenerationOptions& later);

  // Writes the set fields into `c` (max_length clears max_new_tokens, min_length min_new_tokens),
  // then checks the result: throws BadInput for settings generate() refuses.
  void apply_to(GenerationConfig& c) const;
};

// Called with each newly chosen token: input index, returned sequence index, token id.
using TokenCallback = std::function<void(size_t input, size_t sequence, int64_t token)>;

struct PipelineOptions {
  // Where the graphs run (SessionOptions::device): "cpu", "cuda" or "cuda:N". A device this build
  // has no backend for is refused with Unsupported when the pipeline is made.
  std::string device = "cpu";
  int threads = 0;  // 0 = one per core
  // Limits of each graph run (SessionOptions): largest tensor in bytes (0 = none) and wall-clock
  // milliseconds per run (0 = none; a generation makes one run per token).
  size_t max_tensor_bytes = size_t(16) << 30;
  int64_t run_timeout_ms = 0;
  // Limits on reading each graph file (SessionOptions::max_model_bytes, max_subgraph_depth).
  uint64_t max_model_bytes = 2147483647;
  int max_subgraph_depth = 64;
  std::string file;       // graph file ("model_quantized.onnx") or suffix of every graph ("quantized")
  size_t batch_size = 1;  // inputs run together (padded); results equal one-by-one runs
  bool truncation = false;
  std::optional<size_t> max_length;  // tokenizer truncation length (default: the tokenizer's limit)
  // text-classification: all scores sorted when set (top_k labels); fill-mask: candidates (default 5).
  std::optional<int> top_k;
  std::string function_to_apply;              // text-classification: "" (by problem_type), softmax, sigmoid, none
  std::string aggregation_strategy = "none";  // token-classification: none, simple, first, average, max
  // question-answering
  size_t doc_stride = 128, max_answer_length = 15, max_seq_length = 384;
  bool handle_impossible_answer = false;
  // feature-extraction
  std::string pooling = "none";  // none (token embeddings), mean, cls
  bool normalize = false;
  // generation
  GenerationOptions generation;
  TokenCallback on_token;  // streamed new tokens (greedy and sampling)
  // text2text tasks: called after the encoder graph ran on each batch (kiln bench times the encoder).
  std::function<void()> on_encoded;
};

// One input. `ids` bypasses the tokenizer (works in folders without tokenizer files).
// `text_pair`: the second segment of a sentence pair, or the context of question-answering.
struct PipelineInput {
  std::string text;
  std::optional<std::string> text_pair;
  std::optional<std::vector<int64_t>> ids;

  PipelineInput() = default;
  PipelineInput(std::string t) : text(std::move(t)) {}
  PipelineInput(const char* t) : text(t) {}
  static PipelineInput from_ids(std::vector<int64_t> ids) {
    PipelineInput in;
    in.ids = std::move(ids);
    return in;
  }
};

// text-classification: a label and its score.
struct LabelScore {
  std::string label;
  float score = 0;
};

// token-classification: one token (aggregation none) or one entity group.
struct TokenEntity {
  std::string entity;  // label (none) or entity group (aggregated)
  float score = 0;
  int64_t index = -1;  // token index (aggregation none only)
  std::string word;
  int64_t start = 0, end = 0;  // character offsets in the input text
};

// question-answering: the best span of the context.
struct Answer {
  float score = 0;
  int64_t start = 0, end = 0;  // character offsets in the context
  std::string answer;
};

// fill-mask: one candidate for one mask position.
struct MaskFill {
  float score = 0;
  int64_t token = 0;
  std::string token_str, sequence;
};

// Generation tasks: the sequences of one input.
struct Generation {
  std::vector<std::vector<int64_t>> sequences;  // as generate() returns them
  std::vector<double> scores;                   // beam search's sequences_scores
  std::vector<std::string> texts;               // decoded (skip special tokens) when a tokenizer is there
};

class KILN_API Pipeline {
 public:
  virtual ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The task as opened (aliases kept: "sentiment-analysis", "translation_en_to_de").
  const std::string& task() const { return task_; }
  // The model folder's tokenizer; nullptr when the folder has none (then only ids inputs work).
  virtual const Tokenizer* tokenizer() const { return nullptr; }
  // The generation settings in force (model folder, then PipelineOptions::generation); nullptr for
  // tasks that do not generate.
  virtual const GenerationConfig* generation_config() const { return nullptr; }

  // transformers' result for each input, in order, as one JSON document per input.
  virtual std::vector<std::string> run_json(const std::vector<PipelineInput>& inputs) = 0;

  // Typed results; each throws Unsupported unless the pipeline's task gives that kind.
  // text-classification: per input, every label with its score, best first.
  virtual std::vector<std::vector<LabelScore>> classify(const std::vector<PipelineInput>& inputs);
  // token-classification: per input, its tokens or entity groups.
  virtual std::vector<std::vector<TokenEntity>> tag(const std::vector<PipelineInput>& inputs);
  // question-answering (text = question, text_pair = context): per input, the best answer.
  virtual std::vector<Answer> answer(const std::vector<PipelineInput>& inputs);
  // feature-extraction: per input, one vector per token (pooling none) or one pooled vector.
  virtual std::vector<std::vector<std::vector<float>>> embed(const std::vector<PipelineInput>& inputs);
  // fill-mask: per input, per mask position, the top_k candidates.
  virtual std::vector<std::vector<std::vector<MaskFill>>> fill(const std::vector<PipelineInput>& inputs);
  // text2text-generation, summarization, translation, text-generation.
  virtual std::vector<Generation> generate(const std::vector<PipelineInput>& inputs);
  // The same with settings for this call only (transformers' `pipe(text, max_new_tokens=...)`):
  // the set fields of `overrides` replace those of generation_config() for these inputs, which
  // stays as it was. Throws BadInput for settings generate() refuses.
  virtual std::vector<Generation> generate(const std::vector<PipelineInput>& inputs, const GenerationOptions& overrides);

 protected:
  explicit Pipeline(std::string task) : task_(std::move(task)) {}
  std::string task_;
};

// Opens the model folder for the task. Throws (kiln::Error) naming what is missing or does not fit:
// an unknown task, a folder without the graphs or config the task needs, graph inputs/outputs the
// task cannot use. task "" (or "auto"): the one config.json's `architectures` imply
// (kiln::ModelFolder::task()), as transformers' pipeline(model=DIR) does.
KILN_API std::unique_ptr<Pipeline> pipeline(const std::string& task, const std::string& model_dir,
                                            const PipelineOptions& options = {});

// The task names pipeline() accepts (aliases included).
KILN_API std::vector<std::string> pipeline_tasks();

}  // namespace kiln
