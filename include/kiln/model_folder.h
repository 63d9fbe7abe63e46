// kiln/model_folder.h: what a model folder is, found once. The pipelines, `kiln quantize` and
// `kiln export` all read a folder through this.
//
//   kiln::ModelFolder m = kiln::ModelFolder::open("distilbert-sst2");
//   m.task();            // "text-classification" (from config.json's architectures)
//   m.graph("model");    // ".../model.onnx" (or .../onnx/model.onnx)
//   m.tokenizer_dir();   // the folder Tokenizer::from_dir reads
//
// A model folder (Optimum's layout, and kiln's):
// - graphs: model.onnx (encoder-only tasks), encoder_model.onnx + decoder_model.onnx (+
//   decoder_with_past_model.onnx) or decoder_model_merged.onnx (generation), each possibly with a
//   suffix (model_quantized.onnx); in the folder itself or, when it holds none, in its onnx/
//   subfolder (never both: that is refused as ambiguous);
// - config.json (model_type, architectures, labels ...) and optionally generation_config.json;
// - the tokenizer: tokenizer.json, vocab.txt, vocab.json + merges.txt, spiece.model,
//   sentencepiece.bpe.model, tokenizer.model or source.spm (Marian), in the folder, or in the folder
//   named by a tokenizer.txt pointer ("use DIR" or "DIR", relative to the model folder).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/api.h"

namespace kiln {

// A file a model reads from disk.
struct ModelFile {
  std::string path;
  std::string role;  // "graph", "weights" (external data), "config", "tokenizer"
  int64_t bytes = 0;
};

// What a model takes on disk: each file once (external data shared by graphs counted once).
struct ModelFolderSize {
  std::vector<ModelFile> files;
  int64_t graph_bytes = 0;  // graphs and their external data
  int64_t total_bytes = 0;  // everything in `files`
};

class KILN_API ModelFolder {
 public:
  // Reads the folder. Throws IoError when `dir` is not a folder, BadInput when it holds graphs both
  // at the top level and under onnx/, BadModel when config.json is not JSON. A folder without
  // graphs opens (export's checkpoint folders have none); require_graph() says what is missing.
  static ModelFolder open(const std::string& dir);

  const std::string& path() const { return path_; }
  // Where the graphs are: path() or path()/onnx.
  const std::string& graph_dir() const { return graph_dir_; }
  // The .onnx files of graph_dir(), file names only, sorted.
  const std::vector<std::string>& graphs() const { return graphs_; }
  // The graphs the pipelines and the quantizer use, in Optimum's order: model.onnx,
  // encoder_model.onnx, decoder_model.onnx, decoder_with_past_model.onnx, decoder_model_merged.onnx
  // (those present, file names); when none of those is there, every graph in graphs().
  std::vector<std::string> main_graphs() const;
  // "encoder" (model.onnx), "seq2seq" (encoder_model + a decoder), "decoder" (a decoder only), or ""
  // (no standard graph).
  std::string layout() const;
  bool has_merged_decoder() const;

  // Graph `stem` ("model", "encoder_model", "decoder_model_merged" ...) as `file` picks it: "" the
  // plain graph, a file name ("model_quantized.onnx"; multi-graph models take its suffix), or a
  // suffix every graph carries ("quantized"). The full path, or nullopt.
  std::optional<std::string> graph(const std::string& stem, const std::string& file = "") const;
  // As graph(), or throws IoError naming the file looked for, what the folder holds and `why`.
  std::string require_graph(const std::string& stem, const std::string& file, const std::string& why) const;
  // The graphs, for messages: "model.onnx, onnx/x.onnx" or "no .onnx files".
  std::string graphs_listing() const;

  // config.json: its path ("" when absent), and what the pipelines and export read first.
  const std::string& config_path() const { return config_path_; }
  const std::string& generation_config_path() const { return generation_config_path_; }
  const std::string& model_type() const { return model_type_; }
  const std::vector<std::string>& architectures() const { return architectures_; }
  bool is_encoder_decoder() const { return is_encoder_decoder_; }
  // config_path(), or throws IoError saying the folder needs a config.json.
  std::string require_config() const;
  // A classifier's labels by id: config.json's id2label, "LABEL_<id>" for ids it does not name,
  // num_labels of them when given; empty when config.json has neither.
  const std::vector<std::string>& labels() const { return labels_; }
  // config.json's vocab_size (0 when absent).
  int64_t vocab_size() const { return vocab_size_; }
  // The longest input the position embeddings take: max_position_embeddings, n_positions or n_ctx
  // (the first given); nullopt when config.json gives none.
  std::optional<int64_t> max_positions() const { return max_positions_; }
  // config.json's prefix: the text generation models put before every input ("" when none).
  const std::string& prefix() const { return prefix_; }
  // The task transformers' pipeline(model=DIR) would pick from `architectures`
  // (...ForSequenceClassification -> text-classification, ...ForConditionalGeneration ->
  // text2text-generation, ...LMHeadModel -> text-generation, ...Model -> feature-extraction); ""
  // when config.json names no architecture kiln maps.
  std::string task() const;
  // task(), or throws BadInput saying why none could be inferred and listing the tasks to pass.
  std::string require_task() const;

  // The folder the tokenizer is read from (path(), or the one tokenizer.txt names); "" when there
  // is none. has_tokenizer() == !tokenizer_dir().empty().
  const std::string& tokenizer_dir() const { return tokenizer_dir_; }
  bool has_tokenizer() const { return !tokenizer_dir_.empty(); }
  // tokenizer_dir(), or throws IoError naming the files looked for, ending with `what_to_do`.
  std::string require_tokenizer_dir(const std::string& what_to_do = "copy the tokenizer files in") const;
  // The tokenizer's files (tokenizer.json, tokenizer_config.json, vocab.txt ... those present in
  // tokenizer_dir()), full paths; empty when there is no tokenizer.
  std::vector<std::string> tokenizer_paths() const;
  // Whether the tokenizer comes through a tokenizer.txt pointer (a folder outside this one).
  bool tokenizer_is_pointer() const { return !tokenizer_dir_.empty() && tokenizer_dir_ != path_; }

  // The files besides the graphs that travel with the model when kiln writes a folder from this one
  // (quantize, export): config.json, generation_config.json, the tokenizer files present in the
  // folder, preprocessor_config.json. File names, relative to path(); tokenizer.txt is not listed
  // (a writer re-points it: see tokenizer_pointer_for).
  std::vector<std::string> travelling_files() const;
  // The text of a tokenizer.txt for a folder written at `out_dir` that reads this folder's
  // tokenizer; "" when this folder has no pointer.
  std::string tokenizer_pointer_for(const std::string& out_dir) const;

  // The files a pipeline opened with PipelineOptions::file = `file` reads, with their sizes: the
  // standard graphs graph(stem, file) picks (every graph when there is no standard one), their
  // external data, config.json, generation_config.json and the tokenizer files. Throws BadModel when
  // a graph is not ONNX.
  ModelFolderSize size_on_disk(const std::string& file = "") const;

  // The file names a tokenizer can be read from, in the order Tokenizer::from_dir tries them.
  static const std::vector<std::string>& tokenizer_files();
  // The standard graph stems, in Optimum's order (model, encoder_model, decoder_model,
  // decoder_with_past_model, decoder_model_merged).
  static const std::vector<std::string>& graph_stems();

 private:
  void read_config();

  std::string path_, graph_dir_, config_path_, generation_config_path_, model_type_, tokenizer_dir_, prefix_;
  std::vector<std::string> labels_;
  int64_t vocab_size_ = 0;
  std::optional<int64_t> max_positions_;
  std::string tokenizer_pointer_;  // the folder tokenizer.txt names ("" when none)
  std::vector<std::string> graphs_, architectures_;
  bool is_encoder_decoder_ = false, tokenizer_pointer_use_ = false;
};

// The task a transformers model class implies ("BertForSequenceClassification" ->
// "text-classification"); "" when kiln maps none. The one table behind ModelFolder::task() and
// `kiln export --task auto`.
KILN_API std::string task_for_class(const std::string& model_class);

}  // namespace kiln
