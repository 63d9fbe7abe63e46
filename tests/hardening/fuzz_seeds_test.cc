// Fuzz seeds made by the test helpers, so the fuzzers and the crafted-files suite start from the same
// files: the SentencePiece fuzzer's (fuzz/corpus/spiece_model: spiece_model.h's model) and small
// graphs with subgraphs for the ONNX fuzzer (fuzz/corpus/onnx_load). Set KILN_WRITE_FUZZ_SEEDS=1
// to rewrite them after changing the helpers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor_json.h"
#include "crafted_graphs.h"
#include "graph/onnx_io.h"
#include "limit_graphs.h"
#include "spiece_model.h"

namespace {

namespace fs = std::filesystem;

void expect_seeds(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& seeds) {
  const char* write = std::getenv("KILN_WRITE_FUZZ_SEEDS");
  for (const auto& [name, bytes] : seeds) {
    if (write && *write) {
      fs::create_directories(dir);
      std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
    }
    EXPECT_EQ(kiln::read_file((dir / name).string()), bytes) << name << " differs from spiece_model.h; rerun with "
                                                                        "KILN_WRITE_FUZZ_SEEDS=1";
  }
}

TEST(FuzzSeeds, SpieceModelCorpusIsTheTestModel) {
  expect_seeds(fs::path(KILN_SOURCE_DIR) / "fuzz" / "corpus" / "spiece_model",
               {{"small.model", kiln::test::small_spiece_model()},
                {"pieces_only.model", kiln::test::small_spiece_model(false)}});
}

TEST(FuzzSeeds, OnnxCorpusHoldsTheSubgraphModels) {
  expect_seeds(fs::path(KILN_SOURCE_DIR) / "fuzz" / "corpus" / "onnx_load",
               {{"nested_ifs.onnx", kiln::test::crafted::nested_ifs(3).SerializeAsString()},
                {"loop.onnx", kiln::model_to_bytes(kiln::test::loop_graph(5))},
                {"tile.onnx", kiln::model_to_bytes(kiln::test::shape_op_graph("Tile", {3}))}});
}

}  // namespace
