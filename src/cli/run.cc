// kiln run DIR [--task TASK] [options] [TEXT ...]: a task pipeline over a model folder (the task, when
// not given, from config.json's architectures). Inputs are the
// TEXT arguments, else --input-ids lists (no tokenizer needed), else the lines of stdin.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "kiln/model_folder.h"
#include "kiln/pipeline.h"

namespace {

std::vector<int64_t> parse_ids(const std::string& s, const char* flag) {
  std::vector<int64_t> ids;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      size_t used = 0;
      ids.push_back(std::stoll(part, &used));
      if (part.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw kiln::BadInput(fmt::format("{} '{}': '{}' is not an integer id; give comma-separated ids like 1,2,3", flag, s, part));
    }
  }
  KILN_CHECK(!ids.empty(), BadInput, "{} '{}' holds no ids", flag, s);
  return ids;
}

// Lines split on "\n" only; the final "\n" ends the last line; nothing else is stripped.
std::vector<std::string> read_lines(std::istream& in) {
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(all.substr(start));
      break;
    }
    lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string plain_text(const std::string& task, const nlohmann::json& r) {
  if (r.contains("generated_texts")) {
    std::string s;
    for (auto& t : r["generated_texts"]) s += (s.empty() ? "" : "\n") + t.get<std::string>();
    return s;
  }
  if (r.contains("generated_text")) return r["generated_text"].get<std::string>();
  if (r.contains("sequences")) {
    std::string s;
    for (auto& seq : r["sequences"]) {
      std::string line;
      for (auto& id : seq) line += (line.empty() ? "" : " ") + std::to_string(id.get<int64_t>());
      s += (s.empty() ? "" : "\n") + line;
    }
    return s;
  }
  if (r.contains("label") && !r.contains("scores"))
    return fmt::format("{}\t{:.6f}", r["label"].get<std::string>(), r["score"].get<double>());
  if (r.contains("answer") && r["answer"].is_string())
    return fmt::format("{}\t{:.6f}", r["answer"].get<std::string>(), r["score"].get<double>());
  return r.dump();
}

// The generation flags: kiln run's spelling, the GenerationOptions setting each sets, and for the
// switches the value they give. Values go to GenerationOptions::set as text (repeats joined by ';').
struct GenerationFlag {
  const char* flag;
  const char* setting;
  const char* help;
  const char* switch_value = nullptr;  // a flag without a value
};

const GenerationFlag kGenerationFlags[] = {
    {"--max-new-tokens", "max_new_tokens", "tokens to generate at most"},
    {"--min-new-tokens", "min_new_tokens", "tokens to generate at least (eos banned before)"},
    {"--generate-max-length", "max_length", "generate()'s max_length (start ids included)"},
    {"--min-length", "min_length", "generate()'s min_length (start ids included)"},
    {"--num-beams", "num_beams", "beam search with this many beams"},
    {"--do-sample", "do_sample", "sample instead of greedy/beam choice", "true"},
    {"--top-p", "top_p", "sampling: nucleus probability"},
    {"--temperature", "temperature", "sampling temperature"},
    {"--repetition-penalty", "repetition_penalty", "penalty for tokens already in the sequence (1 = none)"},
    {"--no-repeat-ngram-size", "no_repeat_ngram_size", "ban repeating n-grams of this size"},
    {"--length-penalty", "length_penalty", "beam search: score = logprob / length^penalty"},
    {"--num-return-sequences", "num_return_sequences", "sequences per input"},
    {"--early-stopping", "early_stopping", "beam search stops when num_beams hypotheses are done", "true"},
    {"--bad-words-ids", "bad_words_ids", "banned token sequence, comma-separated (repeatable)"},
    {"--forced-bos-token-id", "forced_bos_token_id", "token forced first"},
    {"--forced-eos-token-id", "forced_eos_token_id", "token forced last"},
    {"--seed", "seed", "sampling seed (repeatable results)"},
    {"--no-cache", "use_cache", "re-run the whole sequence each step (no KV cache)", "false"},
};

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

KILN_COMMAND(run_command, "run", "Run a task pipeline (text-classification, text2text-generation, ...) on a model folder") {
  struct Opts {
    std::string dir, task, context;
    std::vector<std::string> texts, input_ids;
    bool json = false, truncation = false, normalize = false, impossible = false;
    kiln::PipelineOptions p;
    std::optional<int64_t> max_length;
    std::optional<int> top_k;  // text-classification and fill-mask, and generation's top_k
    // Generation flags as given: setting name -> values (kiln::GenerationOptions::set reads them).
    std::map<std::string, std::vector<std::string>> generation;
    size_t batch_size = 1;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("dir", o->dir, "model folder (config.json, *.onnx, tokenizer files)")->required();
  sub.add_option("text", o->texts, "input texts (default: one per line of stdin)");
  sub.add_option("--task", o->task, "text-classification, token-classification, question-answering, feature-extraction, "
                                    "fill-mask, text2text-generation, summarization, translation, text-generation "
                                    "(default: the one config.json's architectures imply)");
  sub.add_option("--file", o->p.file, "graph file (model_quantized.onnx) or suffix of every graph (quantized)");
  sub.add_option("--input-ids", o->input_ids, "token ids of one input, comma-separated (repeat for more inputs)")
      ->allow_extra_args(false);
  sub.add_flag("--json", o->json, "one JSON object per input (with \"sequences\" for generation)");
  sub.add_option("--threads", o->p.threads, "threads (0 = one per core)");
  sub.add_option("--max-tensor-bytes", o->p.max_tensor_bytes, "largest tensor a graph run may allocate (0 = no limit)");
  sub.add_option("--timeout-ms", o->p.run_timeout_ms, "wall-clock limit of each graph run in ms (0 = none)");
  sub.add_option("--max-model-bytes", o->p.max_model_bytes, "largest .onnx file read, external data not counted");
  sub.add_option("--max-subgraph-depth", o->p.max_subgraph_depth, "deepest nesting of subgraphs (0 = no limit)");
  sub.add_option("--device", o->p.device, "where the graphs run: cpu (default), cuda or cuda:N");
  sub.add_option("--batch-size", o->batch_size, "inputs run together (padded); results equal one-by-one runs");
  sub.add_flag("--truncation", o->truncation, "truncate inputs to --max-length tokens (default: the tokenizer's limit)");
  sub.add_option("--max-length", o->max_length, "input length limit with --truncation (question-answering: window length)");
  // generation, by transformers' names (flag -> GenerationOptions setting)
  for (const GenerationFlag& f : kGenerationFlags) {
    auto& values = o->generation[f.setting];
    if (f.switch_value) sub.add_flag_callback(f.flag, [&values, &f] { values = {f.switch_value}; }, f.help);
    else sub.add_option(f.flag, values, f.help)->allow_extra_args(false);
  }
  sub.add_option("--top-k", o->top_k, "sampling: keep the k best tokens; text-classification: labels to list; fill-mask: candidates");
  // other tasks
  sub.add_option("--context", o->context, "question-answering: the context (the inputs are questions)");
  sub.add_option("--doc-stride", o->p.doc_stride, "question-answering: overlap of context windows, in tokens");
  sub.add_option("--max-answer-length", o->p.max_answer_length, "question-answering: longest answer, in tokens");
  sub.add_flag("--handle-impossible-answer", o->impossible, "question-answering: allow an empty answer");
  sub.add_option("--aggregation-strategy", o->p.aggregation_strategy, "token-classification: none, simple, first, average, max");
  sub.add_option("--pooling", o->p.pooling, "feature-extraction: none, mean, cls");
  sub.add_flag("--normalize", o->normalize, "feature-extraction: L2-normalise");
  sub.add_option("--function-to-apply", o->p.function_to_apply, "text-classification: softmax, sigmoid, none");
  return [o] {
    if (o->task.empty()) o->task = kiln::ModelFolder::open(o->dir).require_task();
    kiln::PipelineOptions p = o->p;
    p.batch_size = o->batch_size;
    p.truncation = o->truncation;
    if (o->max_length) p.max_length = (size_t)*o->max_length;
    p.top_k = o->top_k;
    p.normalize = o->normalize;
    p.handle_impossible_answer = o->impossible;
    auto& g = p.generation;
    for (const auto& [setting, values] : o->generation) {
      if (values.empty()) continue;
      // Each --bad-words-ids is one banned sequence; of other repeated flags the last counts.
      g.set(setting, setting == "bad_words_ids" ? join(values, ";") : values.back());
    }
    g.top_k = o->top_k;

    std::vector<kiln::PipelineInput> inputs;
    if (!o->input_ids.empty()) {
      KILN_CHECK(o->texts.empty(), BadInput, "give either TEXT arguments or --input-ids, not both");
      for (const auto& s : o->input_ids) inputs.push_back(kiln::PipelineInput::from_ids(parse_ids(s, "--input-ids")));
    } else {
      std::vector<std::string> texts = o->texts.empty() ? read_lines(std::cin) : o->texts;
      for (auto& t : texts) {
        kiln::PipelineInput in(t);
        if (o->task == "question-answering") {
          if (!o->context.empty()) {
            in.text_pair = o->context;
          } else {  // {"question": ..., "context": ...} per line
            auto j = nlohmann::json::parse(t, nullptr, false);
            KILN_CHECK(j.is_object() && j.contains("question") && j.contains("context"), BadInput,
                       "question-answering needs --context, or inputs as JSON lines {{\"question\": ..., \"context\": ...}}");
            in.text = j["question"].get<std::string>();
            in.text_pair = j["context"].get<std::string>();
          }
        }
        inputs.push_back(std::move(in));
      }
    }
    KILN_CHECK(!inputs.empty(), BadInput, "no inputs: give TEXT arguments, --input-ids, or lines on stdin");

    const bool generation = o->task.find("generation") != std::string::npos || o->task == "summarization" ||
                            o->task.rfind("translation", 0) == 0;
    // Plain output of generation streams: each token is printed as soon as it is chosen.
    const bool stream = generation && !o->json && g.num_beams.value_or(1) <= 1;
    std::vector<int64_t> streamed;
    std::string printed;
    // The pipeline's own tokenizer decodes streamed tokens (set once the pipeline is open).
    const kiln::Tokenizer* decoder = nullptr;
    if (stream) {
      p.on_token = [&](size_t, size_t seq, int64_t tok) {
        if (seq != 0) return;
        streamed.push_back(tok);
        if (decoder) {
          std::string now = decoder->decode(streamed, true);
          if (now.rfind(printed, 0) == 0) {
            std::fwrite(now.data() + printed.size(), 1, now.size() - printed.size(), stdout);
            printed = now;
          }
        } else {
          std::printf("%s%lld", streamed.size() > 1 ? " " : "", (long long)tok);
        }
        std::fflush(stdout);
      };
      p.batch_size = 1;
    }
    auto pipe = kiln::pipeline(o->task, o->dir, p);
    if (stream && o->input_ids.empty()) decoder = pipe->tokenizer();
    auto parse = [](const std::string& text) { return nlohmann::json::parse(text); };
    if (stream) {
      for (auto& in : inputs) {
        streamed.clear(), printed.clear();
        auto r = pipe->run_json({in});
        if (streamed.empty()) std::fputs(plain_text(o->task, parse(r.at(0))).c_str(), stdout);  // beams do not stream
        std::printf("\n");
        std::fflush(stdout);
      }
      return 0;
    }
    for (const std::string& r : pipe->run_json(inputs)) {
      std::string line = o->json ? r : plain_text(o->task, parse(r));
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
    }
    return 0;
  };
}
