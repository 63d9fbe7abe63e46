// Sizes at real scale (hundreds of MB, written to a scratch folder in the build tree, or where
// KILN_LARGE_TESTS points, and removed afterwards):
// a t5-small-shaped three-graph folder quantized in one call must come to <= 17 % of the fp32
// files (decoder weights stored once), and a DistilBERT-base export with --quantize-embeddings to
// <= 26 %.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "quantize/presets.h"
#include "quantize/quantize.h"
#include "t5_like_model.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::quant;
namespace fs = std::filesystem;

namespace {
// A fresh scratch folder for one test, removed when the test ends.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name) {
    const char* e = std::getenv("KILN_LARGE_TESTS");
    dir = fs::path(e ? e : KILN_BINARY_DIR "/large-tests") / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
}  // namespace

TEST(Sized, T5SmallFolderUnder17Percent) {
  Scratch scratch("t5");
  fs::path in = scratch.dir / "t5-small-like", out = scratch.dir / "t5-small-like-int8";
  fs::create_directories(in);
  qtest::T5LikeBuilder(qtest::T5Dims{}).write_folder(in.string());
  Options o = preset_options("avx512_vnni", false);
  o.quantize_embeddings = true;
  fs::remove_all(out);
  Report r = quantize_path(in.string(), out.string(), o);
  int64_t before = 0, after = 0;
  for (const auto& e : fs::directory_iterator(in)) before += (int64_t)fs::file_size(e.path());
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().extension() == ".onnx" || e.path().extension() == ".onnx_data") after += (int64_t)fs::file_size(e.path());
  std::printf("t5-small-like: fp32 %.1f MB -> int8 %.1f MB (%.1f %%), %.1f MB stored once\n", before / 1e6, after / 1e6,
              100.0 * after / before, r.bytes_deduplicated / 1e6);
  EXPECT_GT(before, 550e6);
  EXPECT_LE(after, 0.17 * before);
}

TEST(Sized, DistilBertBaseUnder26PercentWithEmbeddings) {
  Scratch scratch("distilbert");
  // The real distilbert-base-uncased config (a copy of ../shared/models/configs/distilbert-base.json).
  std::string cfg = std::string(KILN_SOURCE_DIR) + "/bench/configs/distilbert-base.json";
  fs::path in = scratch.dir / "distilbert-base", out = scratch.dir / "distilbert-base-int8";
  fs::remove_all(in);
  std::string log;
  int rc = test::run_command(test::kiln_binary() + " export '" + cfg + "' '" + in.string() +
                                 "' --task text-classification --random-weights",
                             &log);
  ASSERT_EQ(rc, 0) << log;
  Options o = preset_options("avx512_vnni", false);
  o.quantize_embeddings = true;
  fs::remove_all(out);
  Report r = quantize_path(in.string(), out.string(), o);
  int64_t before = (int64_t)fs::file_size(in / "model.onnx"), after = (int64_t)fs::file_size(out / "model.onnx");
  std::printf("distilbert-base: fp32 %.1f MB -> int8 %.1f MB (%.1f %%)\n", before / 1e6, after / 1e6,
              100.0 * after / before);
  EXPECT_GT(before, 240e6);
  EXPECT_LE(after, 0.26 * before);
  // every weight MatMul/Gemm of the encoder and the head is quantized
  EXPECT_EQ(r.files[0].stats.reasons.count("weight is not float32"), 0u);
  EXPECT_GE(r.files[0].stats.quantized.at("MatMul") + r.files[0].stats.quantized.count("Gemm"), 6 * 6);
}
