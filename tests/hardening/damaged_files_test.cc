// Damaged copies of the fixtures (cut short, random bytes, single bits flipped at fixed-seed
// positions) given to kiln's readers through the library API: ONNX (load, then plan and run what
// still loads), safetensors, pytorch_model.bin, tokenizer.json and SentencePiece .model. Each
// must load, or fail with a kiln::Error whose message is one line; never crash, hang or throw
// anything else. The CLI's answers to the same kinds of files: crafted_cli_test.cc.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/tensor_json.h"
#include "crafted.h"
#include "export/safetensors.h"
#include "export/torch_checkpoint.h"
#include "graph/onnx_io.h"
#include "onnx/onnx_pb.h"
#include "runtime/session.h"
#include "spiece_model.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

using namespace kiln;
using namespace kiln::exporting;
namespace fs = std::filesystem;

namespace {

struct Tally {
  int loaded = 0, refused = 0;
};

// Runs `attempt` on one variant: success, or a kiln::Error with a one-line, non-empty message.
template <class F>
void expect_answered(const std::string& what, const test::Variant& v, Tally& tally, F attempt) {
  try {
    attempt(v.bytes);
    ++tally.loaded;
  } catch (const Error& e) {
    ++tally.refused;
    std::string m = e.what();
    EXPECT_FALSE(m.empty()) << what << ", " << v.label;
    EXPECT_EQ(m.find('\n'), std::string::npos) << what << ", " << v.label << ": " << m;
    EXPECT_NE(e.kind(), ErrorKind::Internal) << what << ", " << v.label << ": " << m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ", " << v.label << ": not a kiln error: " << e.what();
  }
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Byte ranges of the file that hold initializers' raw data: a flipped bit there changes a weight,
// not the structure, so most flips are drawn from outside them.
std::vector<std::pair<size_t, size_t>> payload_spans(const std::string& file) {
  onnx::ModelProto mp;
  EXPECT_TRUE(mp.ParseFromString(file));
  std::vector<std::pair<size_t, size_t>> spans;
  for (const auto& t : mp.graph().initializer()) {
    if (t.raw_data().size() < 64) continue;
    size_t at = file.find(t.raw_data());
    if (at != std::string::npos) spans.push_back({at, at + t.raw_data().size()});
  }
  std::sort(spans.begin(), spans.end());
  return spans;
}

// Flips drawn from the bytes outside `spans` (the message structure): `count` of them.
std::vector<test::Variant> structure_flips(const std::string& good, const std::vector<std::pair<size_t, size_t>>& spans,
                                           size_t count, uint32_t seed) {
  std::vector<size_t> positions;
  size_t at = 0;
  for (auto [b, e] : spans) {
    for (; at < b; ++at) positions.push_back(at);
    at = std::max(at, e);
  }
  for (; at < good.size(); ++at) positions.push_back(at);
  std::mt19937 rng(seed);
  std::vector<test::Variant> out;
  for (size_t k = 0; k < count; ++k) {
    size_t pos = positions[rng() % positions.size()];
    int bit = int(rng() % 8);
    std::string b = good;
    b[pos] = char(uint8_t(b[pos]) ^ (1u << bit));
    out.push_back({"bit " + std::to_string(bit) + " of byte " + std::to_string(pos), std::move(b)});
  }
  return out;
}

TEST(DamagedFiles, Onnx) {
  std::string good = read_file(test::fixture("models/bert-tiny/model.onnx"));
  NamedTensors feeds = read_tensors_json(test::fixture("models/bert-tiny/ref/case0_inputs.json"));
  std::vector<test::Variant> variants = test::truncations(good, 40);
  test::append(variants, test::random_blobs(good, 16, 24, 11));
  test::append(variants, structure_flips(good, payload_spans(good), 240, 13));
  test::append(variants, test::bit_flips(good, 16, 17));  // anywhere, weights included
  SessionOptions so;
  so.threads = 1;
  so.max_tensor_bytes = 64 << 20;
  so.run_timeout_ms = 5000;
  Tally tally;
  int ran = 0;
  for (const auto& v : variants)
    expect_answered("model.onnx", v, tally, [&](const std::string& bytes) {
      Model m = load_model_from_bytes(bytes.data(), bytes.size(), "");
      Session s(std::move(m), so);
      s.run(feeds);
      ++ran;
    });
  // The good file runs; most structural flips are refused, some (a name's letter) still run.
  EXPECT_GT(tally.refused, 100) << tally.loaded << " loaded";
  EXPECT_GT(ran, 0);
}

TEST(DamagedFiles, Safetensors) {
  std::string good = read_file(test::fixture("models/bert-tiny/model.safetensors"));
  uint64_t header = 0;
  std::memcpy(&header, good.data(), 8);
  ASSERT_LT(header, good.size());
  std::vector<test::Variant> variants = test::truncations(good, 40);
  test::append(variants, test::random_blobs(good, 16, 8, 19));
  test::append(variants, test::bit_flips(good, 300, 23, 0, 8 + header));  // the length and the JSON header
  test::append(variants, test::bit_flips(good, 10, 29, 8 + header));       // tensor bytes
  test::ScratchDir dir;
  fs::path file = dir.path / "model.safetensors";
  Tally tally;
  for (const auto& v : variants)
    expect_answered("model.safetensors", v, tally, [&](const std::string& bytes) {
      write_bytes(file, bytes);
      read_safetensors(file.string());
    });
  EXPECT_GT(tally.refused, 100);
}

TEST(DamagedFiles, PytorchModelBin) {
  std::string good = read_file(test::fixture("models/bert-tiny/pytorch_model.bin"));
  std::vector<test::Variant> variants = test::truncations(good, 40);
  test::append(variants, test::random_blobs(good, 16, 64, 31));
  // The pickle comes first in torch.save's archive and the central directory last.
  test::append(variants, test::bit_flips(good, 200, 37, 0, 6000));
  test::append(variants, test::bit_flips(good, 120, 41, good.size() - 4096));
  test::append(variants, test::bit_flips(good, 20, 43));
  test::ScratchDir dir;
  fs::path file = dir.path / "pytorch_model.bin";
  Tally tally;
  for (const auto& v : variants)
    expect_answered("pytorch_model.bin", v, tally, [&](const std::string& bytes) {
      write_bytes(file, bytes);
      read_torch_checkpoint(file.string());
    });
  EXPECT_GT(tally.refused, 100);
}

// What a loaded tokenizer must survive: encoding and decoding odd text.
void exercise(const Tokenizer& tok) {
  for (std::string text : {"Hello world. ab", "", "A \xE2\x96\x81 \xFF\xFE bad utf8", "\xE4\xB8\xAD\xE6\x96\x87 ab ab"}) {
    Encoding e = tok.encode(text);
    tok.decode(e.ids, false);
    tok.decode(e.ids, true);
    tok.encode_pair(text, "b a");
  }
}

TEST(DamagedFiles, TokenizerJson) {
  Tally tally;
  test::ScratchDir dir;
  fs::path file = dir.path / "tokenizer.json";
  uint32_t seed = 47;
  for (std::string name : {"wp.json", "bpe.json", "unigram.json"}) {
    std::string good = read_file(std::string(KILN_SOURCE_DIR) + "/fuzz/corpus/tokenizer_json/" + name);
    std::vector<test::Variant> variants = test::truncations(good, 60);
    test::append(variants, test::random_blobs(good, 8, 16, seed++));
    test::append(variants, test::bit_flips(good, 200, seed++));
    for (const auto& v : variants)
      expect_answered(name, v, tally, [&](const std::string& bytes) {
        write_bytes(file, bytes);
        exercise(*Tokenizer::from_json_file(file.string()));
      });
  }
  EXPECT_GT(tally.refused, 200);
}

TEST(DamagedFiles, SentencePieceModel) {
  std::string good = test::small_spiece_model();
  test::ScratchDir dir;
  fs::path file = dir.path / "spiece.model";
  write_bytes(file, good);
  {
    // The undamaged model encodes as its pieces say ("A" becomes "a" through the charsmap).
    auto tok = Tokenizer::from_dir(dir.path.string());
    EXPECT_EQ(tok->encode("hello Ab").ids, (std::vector<int64_t>{8, 3, 7, 1}));
  }
  // Every cut: a truncated file must never load as a smaller vocabulary.
  std::vector<test::Variant> cuts = test::truncations(good, good.size());
  Tally cut_tally;
  for (const auto& v : cuts)
    expect_answered("spiece.model", v, cut_tally, [&](const std::string& bytes) {
      write_bytes(file, bytes);
      exercise(*Tokenizer::from_dir(dir.path.string()));
    });
  EXPECT_EQ(cut_tally.loaded, 0) << "a cut .model file loaded";
  std::vector<test::Variant> variants = test::random_blobs(good, 16, 0, 53);
  test::append(variants, test::bit_flips(good, 600, 59));
  Tally tally;
  for (const auto& v : variants)
    expect_answered("spiece.model", v, tally, [&](const std::string& bytes) {
      write_bytes(file, bytes);
      exercise(*Tokenizer::from_dir(dir.path.string()));
    });
  EXPECT_GT(tally.refused, 50);
}

}  // namespace
