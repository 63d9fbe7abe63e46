// Checkpoint readers: pytorch_model.bin (zip + restricted unpickler) against the same weights saved
// as model.safetensors by the reference scripts, crafted archives and pickles that must be refused
// (nothing executed), sharded checkpoints, and which file a folder's weights come from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "export/checkpoint.h"
#include "export/pickle.h"
#include "export/safetensors.h"
#include "export/torch_checkpoint.h"
#include "test_util.h"
#include "torch_writer.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporting;
using test::Pickle;
using test::TensorSpec;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

std::string bytes_of(const Tensor& t) { return std::string(static_cast<const char*>(t.raw()), t.nbytes()); }

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// The message of the kiln error `f` throws ("" when it throws none), checking its kind.
template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another kind of error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

std::string bad_pickle(const std::string& pkl) {
  return error_of<BadModel>([&] { unpickle_state_dict(pkl.data(), pkl.size(), "test.pkl"); });
}

// Tied tensors the shared models' README says safetensors stores once, under the first name.
const std::map<std::string, std::map<std::string, std::string>> kTied = {
    {"bert-tiny", {}},
    {"distilbert-tiny", {}},
    {"gpt2-tiny", {{"lm_head.weight", "transformer.wte.weight"}}},
    {"t5-tiny",
     {{"encoder.embed_tokens.weight", "shared.weight"},
      {"decoder.embed_tokens.weight", "shared.weight"},
      {"lm_head.weight", "shared.weight"}}},
    {"bart-tiny",
     {{"model.encoder.embed_tokens.weight", "model.shared.weight"},
      {"model.decoder.embed_tokens.weight", "model.shared.weight"},
      {"lm_head.weight", "model.shared.weight"}}},
};

TEST(TorchCheckpoint, EveryReferenceBinEqualsItsSafetensors) {
  for (const auto& [model, tied] : kTied) {
    SCOPED_TRACE(model);
    auto bin = read_torch_checkpoint(test::fixture("models/" + model + "/pytorch_model.bin"));
    auto st = read_safetensors(test::fixture("models/" + model + "/model.safetensors")).tensors;
    ASSERT_FALSE(st.empty());
    for (const auto& [name, want] : st) {
      ASSERT_TRUE(bin.count(name)) << name;
      const Tensor& got = bin.at(name);
      EXPECT_EQ(got.dtype(), want.dtype()) << name;
      EXPECT_EQ(got.shape(), want.shape()) << name;
      EXPECT_EQ(bytes_of(got), bytes_of(want)) << name;
      // Contiguous, aligned storages are views of the memory-mapped archive, not copies.
      EXPECT_TRUE(got.buffer()->is_view()) << name;
    }
    EXPECT_EQ(bin.size(), st.size() + tied.size());
    for (const auto& [dup, first] : tied) {
      ASSERT_TRUE(bin.count(dup)) << dup;
      EXPECT_EQ(bin.at(dup).raw(), bin.at(first).raw()) << dup << " shares the storage of " << first;
      EXPECT_EQ(bin.at(dup).shape(), bin.at(first).shape());
    }
  }
}

TEST(TorchCheckpoint, Gpt2KeepsItsByteCausalMaskBuffer) {
  auto bin = read_torch_checkpoint(test::fixture("models/gpt2-tiny/pytorch_model.bin"));
  for (std::string layer : {"0", "1"}) {
    const Tensor& mask = bin.at("transformer.h." + layer + ".attn.bias");
    ASSERT_EQ(mask.dtype(), DType::U8);
    ASSERT_EQ(mask.shape(), (Shape{1, 1, 128, 128}));  // README: uint8 causal mask [1,1,128,128]
    const uint8_t* m = mask.data<uint8_t>();
    int wrong = 0;
    for (int i = 0; i < 128; ++i)
      for (int j = 0; j < 128; ++j) wrong += m[i * 128 + j] != (j <= i ? 1 : 0);
    EXPECT_EQ(wrong, 0);
    EXPECT_TRUE(bin.count("transformer.h." + layer + ".attn.masked_bias"));
  }
}

TEST(TorchCheckpoint, ReadsStridedOffsetTiedAndParameterTensors) {
  // One storage of 8 floats viewed four ways, and a Parameter wrapping a tensor.
  const std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7};
  Pickle p;
  p.proto(2).global("collections", "OrderedDict").empty_tuple().reduce().binput(0).mark();
  p.str("whole").tensor("FloatStorage", "0", 8, 0, {2, 3}, {3, 1});
  p.str("transposed").tensor("FloatStorage", "0", 8, 0, {3, 2}, {1, 3});
  p.str("tail").tensor("FloatStorage", "0", 8, 5, {3}, {1});
  p.str("tied").tensor("FloatStorage", "0", 8, 0, {2, 3}, {3, 1});
  p.str("param").global("torch._utils", "_rebuild_parameter");
  p.mark().tensor("FloatStorage", "1", 2, 0, {2}, {1}).boolean(true).global("collections", "OrderedDict");
  p.empty_tuple().reduce().tuple().reduce();
  p.str("broadcast").tensor("FloatStorage", "1", 2, 1, {2, 2}, {0, 0});
  p.setitems();
  // save_pretrained's state dicts carry `_metadata` as the OrderedDict's attribute (BUILD).
  p.empty_dict().str("_metadata").global("collections", "OrderedDict").empty_tuple().reduce().setitem().build();
  p.stop();
  test::ScratchDir d;
  write_bytes(d.path / "p.bin",
              test::torch_archive(p.bytes(), {{"0", float_bytes(v)}, {"1", float_bytes({10, 20})}}));
  auto t = read_torch_checkpoint((d.path / "p.bin").string());
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t["whole"].to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(t["transposed"].shape(), (Shape{3, 2}));
  EXPECT_EQ(t["transposed"].to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(t["tail"].to_vector<float>(), (std::vector<float>{5, 6, 7}));
  EXPECT_EQ(t["tied"].raw(), t["whole"].raw());
  EXPECT_EQ(t["param"].to_vector<float>(), (std::vector<float>{10, 20}));
  EXPECT_EQ(t["broadcast"].to_vector<float>(), (std::vector<float>{20, 20, 20, 20}));
}

TEST(TorchCheckpoint, KeepsDtypesAndCheckpointWeightsUpcastFloats) {
  // 1.5 and -2 in each type's bits (IEEE half 0x3e00/0xc000, bfloat16 0x3fc0/0xc000).
  const uint16_t half[] = {0x3e00, 0xc000}, bf16[] = {0x3fc0, 0xc000};
  const double f64[] = {1.5, -2.0};
  const int64_t i64[] = {7, -3};
  auto raw = [](const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); };
  std::vector<TensorSpec> specs = {{"h", "HalfStorage", "h", 2, 0, {2}, {}},
                                   {"b", "BFloat16Storage", "b", 2, 0, {2}, {}},
                                   {"d", "DoubleStorage", "d", 2, 0, {2}, {}},
                                   {"i", "LongStorage", "i", 2, 0, {2}, {}}};
  test::ScratchDir d;
  write_bytes(d.path / "pytorch_model.bin",
              test::torch_archive(test::state_dict_pickle(specs), {{"h", raw(half, 4)},
                                                                    {"b", raw(bf16, 4)},
                                                                    {"d", raw(f64, 16)},
                                                                    {"i", raw(i64, 16)}}));
  CheckpointTensors c = read_checkpoint(d.path);
  EXPECT_EQ(c.tensors.at("h").dtype(), DType::F16);
  EXPECT_EQ(c.tensors.at("b").dtype(), DType::BF16);
  EXPECT_EQ(c.tensors.at("d").dtype(), DType::F64);
  EXPECT_EQ(c.tensors.at("i").dtype(), DType::I64);
  EXPECT_EQ(c.tensors.at("i").to_vector<int64_t>(), (std::vector<int64_t>{7, -3}));
  auto w = open_checkpoint(d.path);
  for (std::string name : {"h", "b", "d"}) {
    Tensor f = w->get(name, {2});
    ASSERT_EQ(f.dtype(), DType::F32) << name;
    EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.5f, -2.0f})) << name;
  }
  // Safetensors F16 and BF16 weights reach builders as fp32 the same way.
  write_bytes(d.path / "model.safetensors",
              test::safetensors_file({{"h", c.tensors.at("h")}, {"b", c.tensors.at("b")}}));
  auto ws = open_checkpoint(d.path);
  EXPECT_EQ(ws->get("h", {2}).to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(ws->get("b", {2}).to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(TorchCheckpoint, ReadsZip64AndProtocol4Archives) {
  auto ref = read_torch_checkpoint(test::fixture("models/distilbert-tiny/pytorch_model.bin"));
  test::ScratchDir d;
  test::ZipOptions o;
  o.zip64 = true;
  write_bytes(d.path / "z64.bin", test::torch_bin(ref, o));
  auto got = read_torch_checkpoint((d.path / "z64.bin").string());
  ASSERT_EQ(got.size(), ref.size());
  for (const auto& [name, t] : ref) EXPECT_EQ(bytes_of(got.at(name)), bytes_of(t)) << name;

  // Protocol 4: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE.
  Pickle p;
  p.proto(4).frame(0).empty_dict().memoize().short_str("w");
  p.short_str("torch._utils").short_str("_rebuild_tensor_v2").stack_global().memoize();
  p.mark().mark().short_str("storage").short_str("torch").short_str("FloatStorage").stack_global();
  p.short_str("0").short_str("cpu").integer(2).tuple().binpersid();
  p.integer(0).integer(2).tuple_n(1).integer(1).tuple_n(1).boolean(false);
  p.short_str("collections").short_str("OrderedDict").stack_global().empty_tuple().reduce();
  p.tuple().reduce().setitem().stop();
  write_bytes(d.path / "p4.bin", test::torch_archive(p.bytes(), {{"0", float_bytes({3, 4})}}));
  EXPECT_EQ(read_torch_checkpoint((d.path / "p4.bin").string()).at("w").to_vector<float>(),
            (std::vector<float>{3, 4}));
}

TEST(TorchCheckpoint, RefusesGlobalsOtherThanTensorsAndExecutesNothing) {
  test::ScratchDir d;
  const fs::path canary = d.path / "pwned";
  const std::string cmd = "touch " + canary.string();
  struct Case {
    std::string pickle, global;
  };
  std::vector<Case> cases;
  cases.push_back({Pickle().proto(2).global("os", "system").str(cmd).tuple_n(1).reduce().stop().bytes(), "os.system"});
  cases.push_back({Pickle().proto(2).global("builtins", "eval").str("__import__('os').system('" + cmd + "')")
                       .tuple_n(1).reduce().stop().bytes(),
                   "builtins.eval"});
  cases.push_back({Pickle().proto(4).short_str("posix").short_str("system").stack_global().short_str(cmd)
                       .tuple_n(1).reduce().stop().bytes(),
                   "posix.system"});
  cases.push_back({Pickle().proto(2).inst("os", "system").stop().bytes(), "os.system"});
  // Globals that are not code execution but are not part of a state dict either.
  cases.push_back({Pickle().proto(2).global("torch.storage", "_load_from_bytes").str("x").tuple_n(1).reduce()
                       .stop().bytes(),
                   "torch.storage._load_from_bytes"});
  cases.push_back({Pickle().proto(2).global("numpy.core.multiarray", "_reconstruct").stop().bytes(),
                   "numpy.core.multiarray._reconstruct"});
  cases.push_back({Pickle().proto(2).global("torch", "device").str("cpu").tuple_n(1).reduce().stop().bytes(),
                   "torch.device"});
  // A refused global hidden inside an otherwise valid state dict, after a real tensor.
  cases.push_back({Pickle().proto(2).empty_dict().mark().str("a")
                       .tensor("FloatStorage", "0", 2, 0, {2}, {1}).str("b").global("subprocess", "check_call")
                       .str("true").tuple_n(1).reduce().setitems().stop().bytes(),
                   "subprocess.check_call"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.global);
    std::string msg = bad_pickle(c.pickle);
    EXPECT_NE(msg.find("refuses to load global " + c.global), std::string::npos) << msg;
    // The same through the archive reader, with the file's name first.
    fs::path f = d.path / "pytorch_model.bin";
    write_bytes(f, test::torch_archive(c.pickle, {{"0", float_bytes({1, 2})}}));
    msg = error_of<BadModel>([&] { read_checkpoint(d.path); });
    EXPECT_EQ(msg.rfind(f.string() + ": refuses to load global " + c.global, 0), 0u) << msg;
  }
  EXPECT_FALSE(fs::exists(canary));
}

TEST(TorchCheckpoint, RefusesMalformedPickles) {
  const std::string good = test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {4}, {}}});
  ASSERT_EQ(unpickle_state_dict(good.data(), good.size(), "x").tensors.size(), 1u);
  for (size_t cut : {good.size() - 1, good.size() / 2, (size_t)1, (size_t)0})
    EXPECT_NE(bad_pickle(good.substr(0, cut)).find("truncated"), std::string::npos) << cut;
  EXPECT_NE(bad_pickle(Pickle().proto(2).binget(7).stop().bytes()).find("memo index 7"), std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).reduce().stop().bytes()).find("stack underflow"), std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).tuple().stop().bytes()).find("MARK"), std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).empty_dict().str("a").integer(3).setitem().stop().bytes())
                .find("entry 'a' is an int, not a tensor"),
            std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).empty_list().stop().bytes()).find("not a state dict"), std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).op(0xff).bytes()).find("unknown pickle opcode 0xff"), std::string::npos);
  EXPECT_NE(bad_pickle(Pickle().proto(2).op('I').raw("1\n").stop().bytes()).find("'I'"), std::string::npos);
  // A storage type is only a tag of a persistent id; calling it is refused.
  EXPECT_NE(bad_pickle(Pickle().proto(2).global("torch", "FloatStorage").empty_tuple().reduce().stop().bytes())
                .find("persistent id"),
            std::string::npos);
  // A view reaching past its storage: 5 elements of 4, and a stride running off the end.
  EXPECT_NE(bad_pickle(test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {5}, {}}}))
                .find("tensor 'w' (size [5], stride [1], offset 0) reaches past the end of storage '0'"),
            std::string::npos);
  EXPECT_NE(bad_pickle(test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 2, {2, 2}, {2, 1}}})).find("'w'"),
            std::string::npos);
  EXPECT_NE(bad_pickle(test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {2}, {(int64_t)1 << 62}}}))
                .find("'w'"),
            std::string::npos);
  // The same storage key with two sizes.
  EXPECT_NE(bad_pickle(test::state_dict_pickle({{"a", "FloatStorage", "0", 4, 0, {4}, {}},
                                                {"b", "FloatStorage", "0", 8, 0, {4}, {}}}))
                .find("storage '0'"),
            std::string::npos);
}

TEST(TorchCheckpoint, RefusesDamagedArchives) {
  test::ScratchDir d;
  const fs::path f = d.path / "pytorch_model.bin";
  const std::string real = read_file(test::fixture("models/distilbert-tiny/pytorch_model.bin"));
  auto bad = [&](const std::string& bytes) {
    write_bytes(f, bytes);
    return error_of<BadModel>([&] { read_torch_checkpoint(f.string()); });
  };
  // Truncated anywhere: the end record goes first.
  for (size_t cut : {real.size() - 10, real.size() / 2, (size_t)100})
    EXPECT_NE(bad(real.substr(0, cut)).find("truncated"), std::string::npos) << cut;
  EXPECT_NE(bad("").find("not a torch.save archive"), std::string::npos);
  EXPECT_NE(bad("PK\x05\x06").find("too short"), std::string::npos);
  EXPECT_NE(bad("PK\x03\x04 and then nothing useful at all").find("truncated"), std::string::npos);
  EXPECT_NE(bad(std::string(100, 'x')).find("not a torch.save archive"), std::string::npos);

  const std::string pkl = test::state_dict_pickle({{"w", "FloatStorage", "7", 4, 0, {4}, {}}});
  // The storage's entry is missing, or shorter than the pickle says.
  EXPECT_NE(bad(test::torch_archive(pkl, {{"8", float_bytes({1, 2, 3, 4})}})).find("storage '7' is missing"),
            std::string::npos);
  EXPECT_NE(bad(test::torch_archive(pkl, {{"7", float_bytes({1, 2})}})).find("storage '7' has 8 bytes"),
            std::string::npos);
  // No data.pkl, two of them, a truncated data.pkl inside a sound archive.
  EXPECT_NE(bad(test::zip_archive({{"a/version", "3"}})).find("without <archive>/data.pkl"), std::string::npos);
  EXPECT_NE(bad(test::zip_archive({{"a/data.pkl", pkl}, {"b/data.pkl", pkl}})).find("two pickles"), std::string::npos);
  EXPECT_NE(bad(test::torch_archive(pkl.substr(0, 20), {{"7", float_bytes({1, 2, 3, 4})}})).find("truncated"),
            std::string::npos);
  // An entry whose data runs past the end of the file.
  std::string whole = test::torch_archive(pkl, {{"7", float_bytes({1, 2, 3, 4})}});
  std::string central_only = whole;
  size_t at = whole.find(std::string("archive/data/7"));  // the local header's name
  ASSERT_NE(at, std::string::npos);
  central_only.replace(at - 30, 4, "XXXX");  // break the local header's signature
  EXPECT_NE(bad(central_only).find("local header of 'archive/data/7' is missing"), std::string::npos);

  // Formats kiln does not read say how to re-save.
  auto unsupported = [&](const std::string& bytes) {
    write_bytes(f, bytes);
    return error_of<Unsupported>([&] { read_torch_checkpoint(f.string()); });
  };
  std::string tar(600, '\0');
  tar.replace(257, 5, "ustar");  // the tar layout of the earliest torch.save
  EXPECT_NE(unsupported(tar).find("re-save it"), std::string::npos);
  test::ZipOptions deflated;
  deflated.method = 8;
  EXPECT_NE(unsupported(test::torch_archive(pkl, {{"7", float_bytes({1, 2, 3, 4})}}, deflated)).find("compressed"),
            std::string::npos);
  std::string big_endian =
      test::zip_archive({{"a/data.pkl", pkl}, {"a/byteorder", "big"}, {"a/data/7", float_bytes({1, 2, 3, 4})}});
  EXPECT_NE(unsupported(big_endian).find("big-endian"), std::string::npos);
}

TEST(TorchCheckpoint, ReadsTheLegacyFormat) {
  // The pre-1.6 stream (torch.save(..., _use_new_zipfile_serialization=False)), written from the
  // reference safetensors' tensors: the same tensors come back.
  auto ref = read_safetensors(test::fixture("models/distilbert-tiny/model.safetensors")).tensors;
  test::ScratchDir d;
  const fs::path f = d.path / "pytorch_model.bin";
  const std::string legacy = test::torch_legacy(ref);
  write_bytes(f, legacy);
  auto got = read_checkpoint(d.path).tensors;
  ASSERT_EQ(got.size(), ref.size());
  for (const auto& [name, t] : ref) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_EQ(got.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(bytes_of(got.at(name)), bytes_of(t)) << name;
  }
  // Truncated in the storages, in the pickles; a magic number without the rest.
  auto bad = [&](const std::string& bytes) {
    write_bytes(f, bytes);
    return error_of<BadModel>([&] { read_torch_checkpoint(f.string()); });
  };
  EXPECT_NE(bad(legacy.substr(0, legacy.size() - 100)).find("truncated"), std::string::npos);
  EXPECT_NE(bad(legacy.substr(0, 200)).find("truncated"), std::string::npos);
  EXPECT_NE(bad(legacy.substr(0, 15)).find("not a legacy torch.save file"), std::string::npos);
  // The legacy state dict is held to the same rules: a refused global is named.
  std::string evil = legacy.substr(0, 21) + Pickle().proto(2).empty_dict().stop().bytes() +
                     Pickle().proto(2).global("os", "system").str("true").tuple_n(1).reduce().stop().bytes();
  EXPECT_NE(bad(evil).find("refuses to load global os.system"), std::string::npos);
}

// Splits a checkpoint's tensors into two shards of the given format with an index.
void write_shards(const fs::path& dir, const std::map<std::string, Tensor>& tensors, bool safetensors) {
  std::map<std::string, Tensor> shard[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  const std::string stem = safetensors ? "model" : "pytorch_model", ext = safetensors ? ".safetensors" : ".bin";
  int i = 0;
  for (const auto& [name, t] : tensors) {
    int s = i++ % 2;
    shard[s][name] = t;
    index["weight_map"][name] = stem + "-0000" + std::to_string(s + 1) + "-of-00002" + ext;
  }
  for (int s = 0; s < 2; ++s)
    write_bytes(dir / (stem + "-0000" + std::to_string(s + 1) + "-of-00002" + ext),
                safetensors ? test::safetensors_file(shard[s]) : test::torch_bin(shard[s]));
  write_bytes(dir / (stem + ext + ".index.json"), index.dump(2));
}

TEST(Checkpoint, ShardedSafetensorsAndBinReadTheSameTensors) {
  auto ref = read_safetensors(test::fixture("models/distilbert-tiny/model.safetensors")).tensors;
  for (bool st : {true, false}) {
    SCOPED_TRACE(st ? "safetensors" : "bin");
    test::ScratchDir d;
    write_shards(d.path, ref, st);
    CheckpointTensors c = read_checkpoint(d.path);
    EXPECT_EQ(c.source, (d.path / (st ? "model.safetensors.index.json" : "pytorch_model.bin.index.json")).string());
    ASSERT_EQ(c.tensors.size(), ref.size());
    for (const auto& [name, t] : ref) {
      ASSERT_TRUE(c.tensors.count(name)) << name;
      EXPECT_EQ(c.tensors.at(name).shape(), t.shape());
      EXPECT_EQ(bytes_of(c.tensors.at(name)), bytes_of(t)) << name;
    }
    const std::string stem = st ? "model" : "pytorch_model", ext = st ? ".safetensors" : ".bin";
    // A tensor the index places in a shard that lacks it.
    fs::path index = d.path / (stem + ext + ".index.json");
    nlohmann::json j = nlohmann::json::parse(read_file(index.string()));
    std::string moved = j["weight_map"].begin().key();
    std::string owner = j["weight_map"][moved].get<std::string>();
    std::string other = owner.find("00001-of") != std::string::npos ? stem + "-00002-of-00002" + ext
                                                                      : stem + "-00001-of-00002" + ext;
    j["weight_map"][moved] = other;
    write_bytes(index, j.dump());
    std::string msg = error_of<BadModel>([&] { read_checkpoint(d.path); });
    EXPECT_NE(msg.find("has no tensor '" + moved + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(other), std::string::npos) << msg;
    // A missing shard.
    j["weight_map"][moved] = owner;
    write_bytes(index, j.dump());
    fs::remove(d.path / other);
    msg = error_of<IoError>([&] { read_checkpoint(d.path); });
    EXPECT_NE(msg.find((d.path / other).string() + " is missing"), std::string::npos) << msg;
    // A shard name that leaves the folder.
    j["weight_map"][moved] = "../" + owner;
    write_bytes(index, j.dump());
    msg = error_of<BadModel>([&] { read_checkpoint(d.path); });
    EXPECT_NE(msg.find("not a file name beside the index"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, PrefersSafetensorsThenBinAndExplainsOtherFormats) {
  test::ScratchDir d;
  const std::string m = "models/distilbert-tiny/";
  EXPECT_NE(error_of<IoError>([&] { read_checkpoint(d.path); }).find("--random-weights"), std::string::npos);
  write_bytes(d.path / "tf_model.h5", "not read");
  std::string msg = error_of<Unsupported>([&] { read_checkpoint(d.path); });
  EXPECT_NE(msg.find("tf_model.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("safe_serialization=True"), std::string::npos) << msg;
  fs::copy_file(test::fixture(m + "pytorch_model.bin"), d.path / "pytorch_model.bin");
  EXPECT_EQ(read_checkpoint(d.path).source, (d.path / "pytorch_model.bin").string());
  write_shards(d.path, read_safetensors(test::fixture(m + "model.safetensors")).tensors, true);
  EXPECT_EQ(read_checkpoint(d.path).source, (d.path / "model.safetensors.index.json").string());
  fs::copy_file(test::fixture(m + "model.safetensors"), d.path / "model.safetensors");
  EXPECT_EQ(read_checkpoint(d.path).source, (d.path / "model.safetensors").string());
}

}  // namespace
