// What `kiln export` decides and writes around the graphs: the task (auto from config.json's
// architectures, Optimum's aliases, refusals listing what is possible), the output folder
// (config.json, generation_config.json, tokenizer files), and the run that checks every graph.
#include <gtest/gtest.h>

#include <filesystem>

#include "export/export.h"
#include "export/graph_builder.h"
#include "export/model_files.h"
#include "export/tasks.h"
#include "runtime/session.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;
using nlohmann::json;

namespace {

json bert_config() {
  return {{"model_type", "bert"}, {"vocab_size", 100}, {"hidden_size", 16}, {"num_attention_heads", 2},
          {"intermediate_size", 32}, {"num_hidden_layers", 1}, {"max_position_embeddings", 32}};
}

fs::path write_config(const fs::path& dir, const json& c) {
  fs::create_directories(dir);
  write_file_atomic((dir / "config.json").string(), c.dump(2));
  return dir;
}

std::vector<std::string> output_names(const fs::path& model) {
  Session s(model.string());
  std::vector<std::string> names;
  for (const auto& v : s.outputs()) names.push_back(v.name);
  return names;
}

TEST(ExportTasks, AliasesAndModelClasses) {
  EXPECT_EQ(canonical_task("text2text-generation-with-past"), "text2text-generation");
  EXPECT_EQ(canonical_task("text-generation-with-past"), "text-generation");
  EXPECT_EQ(canonical_task("seq2seq-lm"), "text2text-generation");
  EXPECT_EQ(canonical_task("seq2seq-lm-with-past"), "text2text-generation");
  EXPECT_EQ(canonical_task("causal-lm-with-past"), "text-generation");
  EXPECT_EQ(canonical_task("sequence-classification"), "text-classification");
  EXPECT_EQ(canonical_task("masked-lm"), "fill-mask");
  EXPECT_EQ(canonical_task("default"), "feature-extraction");
  EXPECT_EQ(canonical_task("question-answering"), "question-answering");
  EXPECT_EQ(task_for_class("BertForSequenceClassification"), "text-classification");
  EXPECT_EQ(task_for_class("RobertaForTokenClassification"), "token-classification");
  EXPECT_EQ(task_for_class("AlbertForQuestionAnswering"), "question-answering");
  EXPECT_EQ(task_for_class("ElectraForMaskedLM"), "fill-mask");
  EXPECT_EQ(task_for_class("BertModel"), "feature-extraction");
  EXPECT_EQ(task_for_class("T5ForConditionalGeneration"), "text2text-generation");
  EXPECT_EQ(task_for_class("BartForConditionalGeneration"), "text2text-generation");
  EXPECT_EQ(task_for_class("MarianMTModel"), "text2text-generation");
  EXPECT_EQ(task_for_class("GPT2LMHeadModel"), "text-generation");
  EXPECT_EQ(task_for_class("ElectraForPreTraining"), "");
}

TEST(ExportTasks, AutoFollowsTheModelClass) {
  test::ScratchDir d("kiln-export-folder");
  struct Case {
    json architectures;
    std::string task;
    std::vector<std::string> outputs;
  };
  int n = 0;
  for (const Case& c : {Case{json::array({"BertForTokenClassification"}), "token-classification", {"logits"}},
                        Case{json::array({"BertForQuestionAnswering"}), "question-answering",
                             {"start_logits", "end_logits"}},
                        Case{json::array({"BertForMaskedLM"}), "fill-mask", {"logits"}},
                        Case{json::array({"BertModel"}), "feature-extraction", {"last_hidden_state"}},
                        Case{json(), "feature-extraction", {"last_hidden_state"}}}) {
    SCOPED_TRACE(c.task);
    json config = bert_config();
    if (!c.architectures.is_null()) config["architectures"] = c.architectures;
    fs::path src = write_config(d.path / ("src" + std::to_string(n)), config);
    fs::path out = d.path / ("out" + std::to_string(n++));
    ExportOptions o;
    o.random_weights = true;
    ExportResult r = export_model(src.string(), out.string(), o);
    EXPECT_EQ(r.task, c.task);
    EXPECT_EQ(output_names(out / "model.onnx"), c.outputs);
  }
  // Old spellings map to the same graphs.
  ExportOptions o;
  o.random_weights = true;
  o.task = "sequence-classification";
  fs::path src = write_config(d.path / "alias", bert_config());
  EXPECT_EQ(export_model(src.string(), (d.path / "alias-out").string(), o).task, "text-classification");
  EXPECT_EQ(output_names(d.path / "alias-out" / "model.onnx"), std::vector<std::string>{"logits"});
}

TEST(ExportTasks, RefusalsListWhatIsPossible) {
  test::ScratchDir d("kiln-export-folder");
  fs::path src = write_config(d.path / "src", bert_config());
  ExportOptions o;
  o.random_weights = true;
  o.task = "text2text-generation-with-past";
  try {
    export_model(src.string(), (d.path / "o1").string(), o);
    FAIL() << "bert has no text2text-generation";
  } catch (const Unsupported& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'text2text-generation'"), std::string::npos) << m;
    EXPECT_NE(m.find("feature-extraction, text-classification, token-classification, question-answering, fill-mask"),
              std::string::npos)
        << m;
  }
  o.task = "text-clasification";  // a typo is bad input, with the known tasks
  try {
    export_model(src.string(), (d.path / "o2").string(), o);
    FAIL() << "a task nobody has";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("text-classification"), std::string::npos) << e.what();
  }
  // auto, with a model class whose task the architecture lacks.
  json c = bert_config();
  c["architectures"] = json::array({"BertLMHeadModel"});
  o.task = "auto";
  EXPECT_THROW(export_model(write_config(d.path / "lm", c).string(), (d.path / "o3").string(), o), Unsupported);
  o.opset = 12;
  EXPECT_THROW(export_model(src.string(), (d.path / "o4").string(), o), BadInput);
  for (const char* f : {"o1", "o2", "o3", "o4"}) EXPECT_FALSE(fs::exists(d.path / f)) << f;
  // Unknown model_type: the supported ones are listed.
  c["model_type"] = "no-such-model";
  try {
    export_model(write_config(d.path / "unknown", c).string(), (d.path / "o5").string(), ExportOptions{});
    FAIL() << "unknown model_type";
  } catch (const Unsupported& e) {
    for (const char* arch : {"albert", "bert", "camembert", "distilbert", "electra", "roberta", "xlm-roberta"})
      EXPECT_NE(std::string(e.what()).find(arch), std::string::npos) << arch << ": " << e.what();
  }
}

TEST(ExportFolder, CopiesTokenizerFilesAndConfig) {
  test::ScratchDir d("kiln-export-folder");
  fs::path src = write_config(d.path / "ckpt", bert_config());
  std::vector<std::string> tokenizer = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "vocab.txt", "added_tokens.json", "spiece.model", "source.spm",
                                        "target.spm", "vocab.json", "merges.txt", "sentencepiece.bpe.model"};
  for (const auto& f : tokenizer) write_file_atomic((src / f).string(), "contents of " + f);
  fs::create_directories(d.path / "shared-tok");
  write_file_atomic((src / "tokenizer.txt").string(), "../shared-tok\n");
  ExportOptions o;
  o.random_weights = true;
  fs::path out = d.path / "nested" / "out";
  fs::create_directories(out.parent_path());
  ExportResult r = export_model(src.string(), out.string(), o);
  for (const auto& f : tokenizer) {
    ASSERT_TRUE(fs::exists(out / f)) << f;
    EXPECT_EQ(read_file((out / f).string()), "contents of " + f);
    EXPECT_NE(std::find(r.files.begin(), r.files.end(), f), r.files.end()) << f;
  }
  EXPECT_EQ(json::parse(read_file((out / "config.json").string())), bert_config());
  EXPECT_FALSE(fs::exists(out / "generation_config.json"));  // an encoder: nothing to generate
  // The pointer still names the same folder from the new place.
  std::string rel = read_file((out / "tokenizer.txt").string());
  rel.erase(rel.find_last_not_of("\n") + 1);
  EXPECT_EQ(fs::weakly_canonical(out / rel), fs::weakly_canonical(d.path / "shared-tok"));
  ASSERT_EQ(r.files.size(), r.file_bytes.size());
  for (size_t i = 0; i < r.files.size(); ++i) EXPECT_EQ(r.file_bytes[i], (int64_t)fs::file_size(out / r.files[i]));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp." + std::to_string(::getpid())));
}

// transformers' GenerationConfig.from_model_config keeps the generation fields that differ from
// its defaults; these are the fields of t5-small's and bart-base's generation_config.json on the Hub.
TEST(ExportFolder, GenerationConfigFromModelConfig) {
  json t5 = json::parse(read_file(test::fixture("models/t5-tiny/config.json")));
  EXPECT_EQ(generation_config_from_model_config(t5),
            (json{{"_from_model_config", true}, {"decoder_start_token_id", 0}, {"eos_token_id", 1},
                  {"pad_token_id", 0}, {"transformers_version", "4.25.0.dev0"}}));
  json bart = json::parse(read_file(test::fixture("models/configs/bart-base.json")));
  EXPECT_EQ(generation_config_from_model_config(bart),
            (json{{"_from_model_config", true}, {"bos_token_id", 0}, {"decoder_start_token_id", 2},
                  {"early_stopping", true}, {"eos_token_id", 2}, {"forced_bos_token_id", 0},
                  {"forced_eos_token_id", 2}, {"no_repeat_ngram_size", 3}, {"num_beams", 4},
                  {"pad_token_id", 1}, {"transformers_version", "4.25.0.dev0"}}));
}

// A stand-in decoder with a past, registered for text-generation only: its attention mask covers
// past + new tokens, which it returns; "declare" in config.json sets the output's declared length
// (right: "past_sequence_length + sequence_length" or "past_sequence_length + 1", as Optimum
// writes it for one new token).
std::vector<ExportedGraph> build_test_decoder(const json& config, WeightSource&, const ExportOptions& o) {
  GraphBuilder b("decoder", o.opset);
  Dim batch{std::nullopt, "batch_size"};
  b.input("input_ids", DType::I64, {batch, Dim{std::nullopt, "sequence_length"}});
  b.input("past_key_values.0.key", DType::F32,
          {batch, Dim{2, ""}, Dim{std::nullopt, "past_sequence_length"}, Dim{4, ""}});
  std::string mask =
      b.input("attention_mask", DType::I64, {batch, Dim{std::nullopt, "past_sequence_length + sequence_length"}});
  b.output(b.op("Identity", {mask}), "mask_out", DType::I64,
           {batch, Dim{std::nullopt, config.value("declare", std::string("past_sequence_length + sequence_length"))}});
  std::vector<ExportedGraph> out;
  out.push_back({"decoder_with_past_model.onnx", b.finish()});
  return out;
}

[[maybe_unused]] const bool test_decoder_registered =
    register_architecture("kiln-test-decoder", &build_test_decoder, {"text-generation"});

// The check run feeds a past of length 3 and one new token, and holds each output to its
// declaration.
TEST(ExportFolder, EveryGraphIsRunAndHeldToItsDeclaration) {
  test::ScratchDir d("kiln-export-folder");
  json c = {{"model_type", "kiln-test-decoder"}, {"architectures", {"KilnTestLMHeadModel"}}, {"vocab_size", 10},
            {"bos_token_id", 7}, {"eos_token_id", 7}, {"max_length", 64}, {"use_cache", true}};
  ExportOptions o;
  o.random_weights = true;
  o.task = "text-generation-with-past";
  ExportResult r = export_model(write_config(d.path / "src", c).string(), (d.path / "out").string(), o);
  EXPECT_EQ(r.task, "text-generation");
  c["declare"] = "past_sequence_length + 1";
  export_model(write_config(d.path / "src1", c).string(), (d.path / "out1").string(), o);
  c.erase("declare");
  // A generator without generation_config.json gets the one transformers derives from config.json.
  EXPECT_EQ(json::parse(read_file((d.path / "out" / "generation_config.json").string())),
            (json{{"_from_model_config", true}, {"bos_token_id", 7}, {"eos_token_id", 7}, {"max_length", 64}}));
  // A wrong declaration (the new tokens only) is kiln's bug: an internal error, and no folder.
  c["declare"] = "sequence_length";
  try {
    export_model(write_config(d.path / "bad", c).string(), (d.path / "bad-out").string(), o);
    FAIL() << "the declared shape is wrong";
  } catch (const InternalError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'mask_out' has shape [2, 4]"), std::string::npos) << m;
    EXPECT_NE(m.find("[batch_size, sequence_length]"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(d.path / "bad-out"));
  EXPECT_FALSE(fs::exists(d.path / ("bad-out.tmp." + std::to_string(::getpid()))));
  // A generation_config.json of the checkpoint is kept as it is.
  c.erase("declare");
  fs::path src2 = write_config(d.path / "src2", c);
  write_file_atomic((src2 / "generation_config.json").string(), R"({"num_beams": 5})");
  export_model(src2.string(), (d.path / "out2").string(), o);
  EXPECT_EQ(read_file((d.path / "out2" / "generation_config.json").string()), R"({"num_beams": 5})");
}

}  // namespace
