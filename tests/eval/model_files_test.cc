// The bytes a model needs on disk: graphs with the external-data files their tensors name (shared
// files counted once), config and tokenizer files; and kiln quantize's "before" size built on it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "graph/external_data.h"
#include "graph/model_files.h"
#include "graph/onnx_io.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

int64_t bytes(const fs::path& p) { return (int64_t)fs::file_size(p); }

kiln::Model fixture_model() { return kiln::load_model(kiln::test::fixture("models/bert-tiny/model.onnx")); }

}  // namespace

TEST(ModelFiles, GraphBytesIncludeItsNamedExternalDataFile) {
  kiln::test::ScratchDir d;
  kiln::SaveOptions so;
  so.external_data = true;
  so.external_file = "weights.bin";  // a name no guess from the graph's name would find
  kiln::save_model(fixture_model(), (d.path / "model.onnx").string(), so);
  ASSERT_TRUE(fs::exists(d.path / "weights.bin"));
  auto files = kiln::external_data_files((d.path / "model.onnx").string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename(), "weights.bin");
  EXPECT_EQ(kiln::graph_bytes((d.path / "model.onnx").string()), bytes(d.path / "model.onnx") + bytes(d.path / "weights.bin"));
  // A graph with every tensor inside names no files.
  EXPECT_TRUE(kiln::external_data_files(kiln::test::fixture("models/bert-tiny/model.onnx")).empty());
}

TEST(ModelFiles, FolderCountsSharedWeightsOnceAndReadsConfigAndTokenizer) {
  kiln::test::ScratchDir d;
  {
    kiln::SharedExternalData shared((d.path / "weights.onnx_data").string());
    kiln::SaveOptions so;
    so.shared_data = &shared;
    kiln::save_model(fixture_model(), (d.path / "encoder_model.onnx").string(), so);
    kiln::save_model(fixture_model(), (d.path / "decoder_model.onnx").string(), so);
    shared.commit();
  }
  std::ofstream(d.path / "config.json") << "{\"model_type\": \"bert\"}\n";
  std::ofstream(d.path / "vocab.txt") << "[PAD]\n[UNK]\nhello\n";
  std::ofstream(d.path / "notes.md") << "not read by any pipeline\n";
  const int64_t want = bytes(d.path / "encoder_model.onnx") + bytes(d.path / "decoder_model.onnx") +
                       bytes(d.path / "weights.onnx_data") + bytes(d.path / "config.json") + bytes(d.path / "vocab.txt");
  kiln::ModelFolderSize s = kiln::model_folder_size(d.path.string());
  EXPECT_EQ(s.total_bytes, want);
  EXPECT_EQ(s.graph_bytes, want - bytes(d.path / "config.json") - bytes(d.path / "vocab.txt"));
  int weights = 0;
  for (const auto& f : s.files) weights += f.role == "weights";
  EXPECT_EQ(weights, 1);
  // Counted per graph with a shared set: the data file goes to the first graph only.
  std::set<std::string> counted;
  EXPECT_EQ(kiln::graph_bytes((d.path / "decoder_model.onnx").string(), &counted),
            bytes(d.path / "decoder_model.onnx") + bytes(d.path / "weights.onnx_data"));
  EXPECT_EQ(kiln::graph_bytes((d.path / "encoder_model.onnx").string(), &counted), bytes(d.path / "encoder_model.onnx"));
}

TEST(ModelFiles, QuantizeReportCountsExternalDataBefore) {
  kiln::test::ScratchDir d;
  fs::create_directories(d.path / "in");
  kiln::SaveOptions so;
  so.external_data = true;
  so.external_file = "weights.onnx_data";
  kiln::save_model(fixture_model(), (d.path / "in" / "model.onnx").string(), so);
  fs::copy_file(kiln::test::fixture("models/bert-tiny/config.json"), d.path / "in" / "config.json");
  std::string out;
  ASSERT_EQ(0, kiln::test::run_command(kiln::test::kiln_binary() + " quantize " + (d.path / "in").string() + " " +
                                           (d.path / "out").string() + " --json 2>/dev/null",
                                       &out))
      << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["total_bytes_before"].get<int64_t>(),
            bytes(d.path / "in" / "model.onnx") + bytes(d.path / "in" / "weights.onnx_data"));
  EXPECT_LT(j["ratio"].get<double>(), 1.0);  // int8 weights are smaller than the float ones
}
