// Export: the safetensors reader (and its refusals), and DistilBERT built from the reference
// checkpoint reproducing PyTorch's logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "export/export.h"
#include "export/safetensors.h"
#include "runtime/session.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("kiln-export-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string safetensors_bytes(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

// The exported distilbert-tiny graph gives PyTorch's logits on both reference cases (1e-4).
void expect_distilbert_tiny_logits(const fs::path& model) {
  Session s(model.string());
  for (std::string c : {"case0", "case1"}) {
    auto feeds = read_tensors_json(test::fixture("models/distilbert-tiny/ref/" + c + "_inputs.json"));
    auto ref = read_tensors_json(test::fixture("models/distilbert-tiny/ref/" + c + "_outputs.json"));
    EXPECT_LE(test::relative_error(s.run(feeds).at("logits"), ref.at("logits")), 1e-4) << c;
  }
}

TEST(Safetensors, ReadsTheReferenceCheckpoint) {
  SafetensorsFile f = read_safetensors(test::fixture("models/distilbert-tiny/model.safetensors"));
  EXPECT_EQ(f.metadata["format"], "pt");  // README: __metadata__ = {"format": "pt"}
  ASSERT_TRUE(f.tensors.count("distilbert.embeddings.word_embeddings.weight"));
  EXPECT_EQ(f.tensors["distilbert.embeddings.word_embeddings.weight"].shape(), (Shape{1024, 64}));
  EXPECT_EQ(f.tensors["classifier.weight"].shape(), (Shape{2, 64}));
}

TEST(Safetensors, ReadsAHandWrittenFile) {
  fs::path d = temp_dir("st");
  float v[3] = {1.5f, -2.0f, 4.0f};
  std::string data(reinterpret_cast<const char*>(v), sizeof v);
  write_bytes(d / "a.safetensors",
              safetensors_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", data));
  SafetensorsFile f = read_safetensors((d / "a.safetensors").string());
  ASSERT_EQ(f.tensors.count("x"), 1u);
  EXPECT_EQ(f.tensors["x"].data<float>()[2], 4.0f);
  fs::remove_all(d);
}

TEST(Safetensors, RefusesBadFiles) {
  fs::path d = temp_dir("bad");
  auto expect_bad = [&](const std::string& bytes, const std::string& why) {
    write_bytes(d / "b.safetensors", bytes);
    EXPECT_THROW(read_safetensors((d / "b.safetensors").string()), Error) << why;
  };
  expect_bad("abc", "too short");
  expect_bad(std::string(8, '\xff') + "{}", "header length beyond the file");
  expect_bad(safetensors_bytes("{not json", ""), "header not JSON");
  expect_bad(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", std::string(12, '\0')),
             "offsets do not match the shape");
  expect_bad(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(12, '\0')),
             "offsets beyond the data");
  expect_bad(safetensors_bytes(R"({"x":{"dtype":"Q4","shape":[3],"data_offsets":[0,12]}})", std::string(12, '\0')),
             "unknown dtype");
  fs::remove_all(d);
}

TEST(Export, DistilBertFromSafetensorsMatchesPyTorch) {
  fs::path d = temp_dir("distilbert");
  fs::path src = d / "src";
  fs::create_directories(src);
  fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), src / "config.json");
  fs::copy_file(test::fixture("models/distilbert-tiny/model.safetensors"), src / "model.safetensors");
  ExportResult r = export_model(src.string(), (d / "out").string(), {});
  ASSERT_TRUE(fs::exists(d / "out" / "model.onnx"));
  ASSERT_TRUE(fs::exists(d / "out" / "config.json"));
  expect_distilbert_tiny_logits(d / "out" / "model.onnx");
  fs::remove_all(d);
}

// The same model from pytorch_model.bin alone (config.json + the torch.save archive).
TEST(Export, DistilBertFromPytorchBinMatchesPyTorch) {
  fs::path d = temp_dir("distilbert-bin");
  fs::path src = d / "src";
  fs::create_directories(src);
  fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), src / "config.json");
  fs::copy_file(test::fixture("models/distilbert-tiny/pytorch_model.bin"), src / "pytorch_model.bin");
  export_model(src.string(), (d / "out").string(), {});
  expect_distilbert_tiny_logits(d / "out" / "model.onnx");
  fs::remove_all(d);
}

// T5 from its pytorch_model.bin, where the tied embedding is stored under four names sharing one
// storage (safetensors keeps one): the three graphs reproduce PyTorch's outputs.
TEST(Export, T5FromPytorchBinMatchesPyTorch) {
  fs::path d = temp_dir("t5-bin");
  fs::path src = d / "src";
  fs::create_directories(src);
  fs::copy_file(test::fixture("models/t5-tiny/config.json"), src / "config.json");
  fs::copy_file(test::fixture("models/t5-tiny/pytorch_model.bin"), src / "pytorch_model.bin");
  export_model(src.string(), (d / "out").string(), {});
  int compared = 0;
  for (std::string g : {"encoder", "decoder", "decoder_with_past"}) {
    Session s((d / "out" / (g + "_model.onnx")).string());
    auto feeds = read_tensors_json(test::fixture("models/t5-tiny/ref/" + g + "_inputs.json"));
    auto ref = read_tensors_json(test::fixture("models/t5-tiny/ref/" + g + "_outputs.json"));
    NamedTensors got = s.run(feeds);
    for (const auto& [name, t] : ref) {
      ASSERT_TRUE(got.count(name)) << g << " " << name;
      EXPECT_LE(test::relative_error(got.at(name), t), 1e-4) << g << " " << name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 15);  // 1 encoder output, 9 decoder outputs, 5 with-past outputs
  fs::remove_all(d);
}

// ONNX Runtime runs what kiln exports, in every layout and task it writes, with PyTorch's outputs
// for the classifier and kiln's outputs for everything.
TEST(Export, OnnxRuntimeRunsEveryExportedLayout) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  fs::path d = temp_dir("ort");
  fs::path src = d / "src";
  fs::create_directories(src);
  fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), src / "config.json");
  fs::copy_file(test::fixture("models/distilbert-tiny/model.safetensors"), src / "model.safetensors");
  struct Layout {
    std::string name, task;
    int64_t opset;
    bool external;
  };
  int runs = 0;
  for (const Layout& l : {Layout{"cls13", "text-classification", 13, false},
                          Layout{"cls17ext", "text-classification", 17, true},
                          Layout{"feat17", "feature-extraction", 17, false}}) {
    SCOPED_TRACE(l.name);
    ExportOptions o;
    o.task = l.task;
    o.opset = l.opset;
    o.external_data = l.external;
    export_model(src.string(), (d / l.name).string(), o);
    std::string model = (d / l.name / "model.onnx").string();
    if (l.external) EXPECT_TRUE(fs::exists(d / l.name / "model.onnx.data"));
    for (std::string c : {"case0", "case1"}) {
      auto feeds = read_tensors_json(test::fixture("models/distilbert-tiny/ref/" + c + "_inputs.json"));
      NamedTensors ort = test::run_ort(model, feeds, d.string());
      NamedTensors got = Session(model).run(feeds);
      ASSERT_FALSE(ort.empty());
      for (const auto& [name, t] : ort) {
        ASSERT_TRUE(got.count(name)) << name;
        EXPECT_LE(test::relative_error(got.at(name), t), 1e-5) << name << " " << c;
      }
      if (l.task == "text-classification") {
        auto ref = read_tensors_json(test::fixture("models/distilbert-tiny/ref/" + c + "_outputs.json"));
        EXPECT_LE(test::relative_error(ort.at("logits"), ref.at("logits")), 1e-4) << c;
      }
      ++runs;
    }
  }
  EXPECT_EQ(runs, 6);
  fs::remove_all(d);
}

TEST(Export, RefusesNonEmptyOutputAndUnknownArchitecture) {
  fs::path d = temp_dir("refuse");
  fs::create_directories(d / "out");
  write_bytes(d / "out" / "keep.txt", "precious");
  fs::create_directories(d / "src");
  fs::copy_file(test::fixture("models/distilbert-tiny/config.json"), d / "src" / "config.json");
  EXPECT_THROW(export_model((d / "src").string(), (d / "out").string(), {}), BadInput);
  EXPECT_EQ(read_file((d / "out" / "keep.txt").string()), "precious");
  write_bytes(d / "src" / "config.json", R"({"model_type": "no-such-model"})");
  EXPECT_THROW(export_model((d / "src").string(), (d / "new").string(), {}), Unsupported);
  EXPECT_FALSE(fs::exists(d / "new"));
  fs::remove_all(d);
}

}  // namespace
