// kiln::ModelFolder on the fixture folders (what each holds is known from its file listing and its
// config.json, written by transformers) and on crafted folders: onnx/ subfolder, merged decoder,
// missing tokenizer, a tokenizer.txt pointer, graphs in two places.
#include "kiln/model_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using kiln::ModelFolder;
using kiln::test::fixture;

namespace {

void touch(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

void config(const fs::path& dir, const std::string& architecture) {
  touch(dir / "config.json", "{\"model_type\": \"m\", \"architectures\": [\"" + architecture + "\"]}");
}

// The message of the kiln::Error `f` throws ("" if none).
template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ModelFolder, FixtureClassifier) {
  ModelFolder m = ModelFolder::open(fixture("models/distilbert-tiny"));
  EXPECT_EQ(m.graph_dir(), m.path());
  EXPECT_EQ(m.graphs(), (std::vector<std::string>{"model.onnx", "model_quantized.onnx"}));
  EXPECT_EQ(m.main_graphs(), (std::vector<std::string>{"model.onnx"}));
  EXPECT_EQ(m.layout(), "encoder");
  EXPECT_EQ(m.model_type(), "distilbert");
  EXPECT_EQ(m.architectures(), (std::vector<std::string>{"DistilBertForSequenceClassification"}));
  EXPECT_EQ(m.task(), "text-classification");
  EXPECT_EQ(*m.graph("model"), fixture("models/distilbert-tiny") + "/model.onnx");
  EXPECT_EQ(*m.graph("model", "quantized"), fixture("models/distilbert-tiny") + "/model_quantized.onnx");
  EXPECT_EQ(*m.graph("model", "model_quantized.onnx"), fixture("models/distilbert-tiny") + "/model_quantized.onnx");
  EXPECT_FALSE(m.graph("encoder_model"));
  EXPECT_FALSE(m.has_tokenizer());  // the fixture carries no tokenizer files
  EXPECT_TRUE(m.generation_config_path().empty());
}

TEST(ModelFolder, FixtureSeq2SeqAndDecoder) {
  ModelFolder t5 = ModelFolder::open(fixture("models/t5-tiny"));
  EXPECT_EQ(t5.layout(), "seq2seq");
  EXPECT_EQ(t5.main_graphs(),
            (std::vector<std::string>{"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"}));
  EXPECT_EQ(t5.task(), "text2text-generation");  // T5ForConditionalGeneration
  EXPECT_TRUE(t5.is_encoder_decoder());
  EXPECT_FALSE(t5.has_merged_decoder());
  EXPECT_EQ(ModelFolder::open(fixture("models/bart-tiny")).task(), "text2text-generation");
  ModelFolder gpt2 = ModelFolder::open(fixture("models/gpt2-tiny"));
  EXPECT_EQ(gpt2.layout(), "decoder");
  EXPECT_EQ(gpt2.task(), "text-generation");  // GPT2LMHeadModel
}

TEST(ModelFolder, FixturePointerThatResolvesNowhereIsNoTokenizer) {
  // distilbert-tiny-vocab's tokenizer.txt names ../../data/tokenizers/bert-base-uncased, a folder of
  // the shared tree that is not inside tests/fixtures.
  ModelFolder m = ModelFolder::open(fixture("models/distilbert-tiny-vocab"));
  EXPECT_FALSE(m.has_tokenizer());
  std::string e = error_of<kiln::IoError>([&] { m.require_tokenizer_dir(); });
  EXPECT_NE(e.find("has no tokenizer"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  EXPECT_NE(e.find("spiece.model"), std::string::npos) << e;
}

TEST(ModelFolder, OnnxSubfolder) {
  kiln::test::ScratchDir d("kiln-folder");
  config(d.path, "BertForTokenClassification");
  touch(d.path / "onnx" / "model.onnx");
  touch(d.path / "onnx" / "model_quantized.onnx");
  touch(d.path / "tokenizer.json");
  ModelFolder m = ModelFolder::open(d.path.string());
  EXPECT_EQ(m.graph_dir(), (d.path / "onnx").string());
  EXPECT_EQ(*m.graph("model"), (d.path / "onnx" / "model.onnx").string());
  EXPECT_EQ(m.graphs_listing(), "onnx/model.onnx, onnx/model_quantized.onnx");
  EXPECT_EQ(m.task(), "token-classification");
  EXPECT_EQ(m.tokenizer_dir(), d.path.string());
  EXPECT_FALSE(m.tokenizer_is_pointer());
}

TEST(ModelFolder, MergedDecoderAndSuffixes) {
  kiln::test::ScratchDir d("kiln-folder");
  config(d.path, "GPT2LMHeadModel");
  touch(d.path / "decoder_model_merged.onnx");
  touch(d.path / "decoder_model_merged_quantized.onnx");
  ModelFolder m = ModelFolder::open(d.path.string());
  EXPECT_TRUE(m.has_merged_decoder());
  EXPECT_EQ(m.layout(), "decoder");
  EXPECT_EQ(m.main_graphs(), (std::vector<std::string>{"decoder_model_merged.onnx"}));
  EXPECT_EQ(*m.graph("decoder_model_merged", "quantized"), (d.path / "decoder_model_merged_quantized.onnx").string());
  EXPECT_EQ(*m.graph("decoder_model_merged", "decoder_model_merged_quantized.onnx"),
            (d.path / "decoder_model_merged_quantized.onnx").string());
  EXPECT_FALSE(m.graph("decoder_model"));
  std::string e = error_of<kiln::IoError>([&] { m.require_graph("decoder_model", "", "task x needs it"); });
  EXPECT_NE(e.find("decoder_model.onnx"), std::string::npos) << e;
  EXPECT_NE(e.find("it holds: decoder_model_merged.onnx, decoder_model_merged_quantized.onnx"), std::string::npos) << e;
  EXPECT_NE(e.find("task x needs it"), std::string::npos) << e;
}

TEST(ModelFolder, NoGraphsAndOtherGraphs) {
  kiln::test::ScratchDir d("kiln-folder");
  config(d.path, "BertModel");
  ModelFolder empty = ModelFolder::open(d.path.string());  // a checkpoint folder opens
  EXPECT_TRUE(empty.graphs().empty());
  EXPECT_EQ(empty.graphs_listing(), "no .onnx files");
  EXPECT_EQ(empty.layout(), "");
  EXPECT_EQ(empty.task(), "feature-extraction");  // plain *Model
  touch(d.path / "b.onnx");
  touch(d.path / "a.onnx");
  // No standard name: every graph is the model's.
  EXPECT_EQ(ModelFolder::open(d.path.string()).main_graphs(), (std::vector<std::string>{"a.onnx", "b.onnx"}));
}

TEST(ModelFolder, GraphsInTwoPlacesAreAmbiguous) {
  kiln::test::ScratchDir d("kiln-folder");
  touch(d.path / "model.onnx");
  touch(d.path / "onnx" / "model_quantized.onnx");
  std::string e = error_of<kiln::BadInput>([&] { ModelFolder::open(d.path.string()); });
  EXPECT_NE(e.find("ambiguous"), std::string::npos) << e;
  EXPECT_NE(e.find("(model.onnx)"), std::string::npos) << e;
  EXPECT_NE(e.find("onnx/ (model_quantized.onnx)"), std::string::npos) << e;
}

TEST(ModelFolder, NotAFolder) {
  std::string e = error_of<kiln::IoError>([&] { ModelFolder::open("/nonexistent/kiln-model"); });
  EXPECT_NE(e.find("/nonexistent/kiln-model does not exist"), std::string::npos) << e;
}

TEST(ModelFolder, TokenizerSources) {
  for (const char* f : {"tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}) {
    kiln::test::ScratchDir d("kiln-folder");
    touch(d.path / f);
    EXPECT_EQ(ModelFolder::open(d.path.string()).tokenizer_dir(), d.path.string()) << f;
  }
  kiln::test::ScratchDir d("kiln-folder");
  touch(d.path / "vocab.json");  // BPE needs merges.txt too
  EXPECT_FALSE(ModelFolder::open(d.path.string()).has_tokenizer());
  touch(d.path / "merges.txt");
  EXPECT_TRUE(ModelFolder::open(d.path.string()).has_tokenizer());
}

TEST(ModelFolder, MarianSpmIsNamedWhenMissing) {
  kiln::test::ScratchDir d("kiln-folder");
  touch(d.path / "source.spm");
  touch(d.path / "target.spm");
  ModelFolder m = ModelFolder::open(d.path.string());
  EXPECT_FALSE(m.has_tokenizer());
  std::string e = error_of<kiln::IoError>([&] { m.require_tokenizer_dir("pass token ids"); });
  EXPECT_NE(e.find("source.spm"), std::string::npos) << e;
  EXPECT_NE(e.find("; pass token ids"), std::string::npos) << e;
  // They still travel with the model.
  EXPECT_EQ(m.travelling_files(), (std::vector<std::string>{"source.spm", "target.spm"}));
}

TEST(ModelFolder, TokenizerTxtPointer) {
  kiln::test::ScratchDir d("kiln-folder");
  fs::path model = d.path / "models" / "m", tok = d.path / "tokenizers" / "t";
  touch(tok / "tokenizer.json");
  touch(tok / "tokenizer_config.json");
  touch(model / "model.onnx");
  touch(model / "tokenizer.txt", "use ../../tokenizers/t\n");
  ModelFolder m = ModelFolder::open(model.string());
  EXPECT_TRUE(m.tokenizer_is_pointer());
  EXPECT_EQ(fs::weakly_canonical(m.tokenizer_dir()), fs::weakly_canonical(tok));
  EXPECT_EQ(m.tokenizer_paths().size(), 2u);
  EXPECT_TRUE(m.travelling_files().empty());  // the pointer is rewritten, not copied
  // Written elsewhere, the pointer names the same folder, keeping the "use " form.
  fs::path out = d.path / "a" / "b" / "c";
  std::string p = m.tokenizer_pointer_for(out.string());
  ASSERT_EQ(p.rfind("use ", 0), 0u) << p;
  EXPECT_EQ(fs::weakly_canonical(out / p.substr(4, p.size() - 5)), fs::weakly_canonical(tok)) << p;
  // Files in the folder itself win over the pointer.
  touch(model / "vocab.txt");
  EXPECT_EQ(ModelFolder::open(model.string()).tokenizer_dir(), model.string());
  // A bare path (no "use ") is a pointer too, and stays bare.
  touch(model / "tokenizer.txt", "../../tokenizers/t\n");
  std::string bare = ModelFolder::open(model.string()).tokenizer_pointer_for(out.string());
  EXPECT_NE(bare.rfind("use ", 0), 0u) << bare;
}

TEST(ModelFolder, TravellingFiles) {
  kiln::test::ScratchDir d("kiln-folder");
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "preprocessor_config.json", "model.onnx", "README.md"})
    touch(d.path / f, f == std::string("config.json") ? "{}" : "x");
  EXPECT_EQ(ModelFolder::open(d.path.string()).travelling_files(),
            (std::vector<std::string>{"config.json", "generation_config.json", "preprocessor_config.json",
                                      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}));
}

TEST(ModelFolder, TaskFromArchitectures) {
  const std::pair<const char*, const char*> cases[] = {
      {"BertForSequenceClassification", "text-classification"},
      {"BertForTokenClassification", "token-classification"},
      {"DistilBertForQuestionAnswering", "question-answering"},
      {"RobertaForMaskedLM", "fill-mask"},
      {"T5ForConditionalGeneration", "text2text-generation"},
      {"BartForConditionalGeneration", "text2text-generation"},
      {"MarianMTModel", "text2text-generation"},
      {"GPT2LMHeadModel", "text-generation"},
      {"LlamaForCausalLM", "text-generation"},
      {"BertModel", "feature-extraction"},
  };
  for (auto [arch, task] : cases) {
    kiln::test::ScratchDir d("kiln-folder");
    config(d.path, arch);
    EXPECT_EQ(ModelFolder::open(d.path.string()).task(), task) << arch;
  }
}

TEST(ModelFolder, NoTaskSaysWhyAndListsTasks) {
  kiln::test::ScratchDir d("kiln-folder");
  std::string e = error_of<kiln::BadInput>([&] { ModelFolder::open(d.path.string()).require_task(); });
  EXPECT_NE(e.find("no config.json"), std::string::npos) << e;
  config(d.path, "SomethingElse");
  e = error_of<kiln::BadInput>([&] { ModelFolder::open(d.path.string()).require_task(); });
  EXPECT_NE(e.find("SomethingElse"), std::string::npos) << e;
  EXPECT_NE(e.find("pass --task"), std::string::npos) << e;
  EXPECT_NE(e.find("text-classification"), std::string::npos) << e;
  touch(d.path / "config.json", "not json");
  e = error_of<kiln::BadModel>([&] { ModelFolder::open(d.path.string()); });
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
}
