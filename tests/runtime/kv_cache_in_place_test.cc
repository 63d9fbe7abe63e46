// SessionOptions::kv_cache_in_place: a decoder step's self-attention caches kept time-major
// ([t, b, H, D]) and appended in place (passes/kv_cache_time_major.cc, kiln:KvAppend). The
// with-past graphs of ../shared/models (T5, BART, GPT-2 as torch.onnx.export writes them) must still
// give PyTorch's outputs, the caches that take the rewrite must be exactly the self-attention ones,
// a present fed back must grow in the same memory, and a past appended to twice must not be
// overwritten.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>

#include "core/buffer.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

// x with its 4 axes in the order `perm` (out axis a = x's axis perm[a]), element by element.
Tensor permute4(const Tensor& x, const std::array<int, 4>& perm) {
  Shape shape(4, 0);
  for (int a = 0; a < 4; ++a) shape[a] = x.dim(perm[a]);
  Tensor out(x.dtype(), shape);
  const float* s = x.data<float>();
  float* d = out.data<float>();
  int64_t i[4];
  for (i[0] = 0; i[0] < x.dim(0); ++i[0])
    for (i[1] = 0; i[1] < x.dim(1); ++i[1])
      for (i[2] = 0; i[2] < x.dim(2); ++i[2])
        for (i[3] = 0; i[3] < x.dim(3); ++i[3]) {
          const int64_t o = ((i[perm[0]] * shape[1] + i[perm[1]]) * shape[2] + i[perm[2]]) * shape[3] + i[perm[3]];
          d[o] = s[((i[0] * x.dim(1) + i[1]) * x.dim(2) + i[2]) * x.dim(3) + i[3]];
        }
  return out;
}
// [b, H, t, D] <-> [t, b, H, D]
Tensor to_time_major(const Tensor& x) { return permute4(x, {2, 0, 1, 3}); }
Tensor to_head_major(const Tensor& x) { return permute4(x, {1, 2, 0, 3}); }

SessionOptions in_place() {
  SessionOptions o;
  o.kv_cache_in_place = true;
  return o;
}

std::set<std::string> time_major_inputs(const Session& s) {
  std::set<std::string> names;
  for (const auto& v : s.input_info())
    if (v.time_major) names.insert(v.name);
  return names;
}

struct DecoderCase {
  std::string dir;
  bool encoder_decoder;  // else decoder-only: the step takes a mask over past and new tokens
};

// The mask a decoder-only step takes over its past and new tokens, one longer than the last one.
void grow_mask(NamedTensors& feeds) {
  const int64_t rows = feeds.at("input_ids").dim(0), len = feeds.at("attention_mask").dim(1) + 1;
  feeds["attention_mask"] = Tensor::from_vector<int64_t>({rows, len}, std::vector<int64_t>((size_t)(rows * len), 1));
}

class KvCacheInPlace : public ::testing::TestWithParam<DecoderCase> {};

// Every self-attention cache (not the encoder's keys and values, which are never concatenated) is
// kept time-major, and the step still gives PyTorch's logits and presents.
TEST_P(KvCacheInPlace, MatchesPyTorchWithTheSelfAttentionCachesTimeMajor) {
  const std::string dir = test::fixture("models/" + GetParam().dir);
  Session s(dir + "/decoder_with_past_model.onnx", in_place());
  std::set<std::string> expected;
  for (const auto& v : s.input_info())
    if (v.name.find("past_key_values") == 0 && v.name.find("encoder") == std::string::npos) expected.insert(v.name);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(time_major_inputs(s), expected);
  for (const auto& v : s.output_info())
    EXPECT_EQ(v.time_major, v.name.find("present") == 0 && v.name.find("encoder") == std::string::npos) << v.name;

  NamedTensors feeds = read_tensors_json(dir + "/ref/decoder_with_past_inputs.json");
  NamedTensors refs = read_tensors_json(dir + "/ref/decoder_with_past_outputs.json");
  for (const std::string& n : expected) feeds[n] = to_time_major(feeds.at(n));
  NamedTensors outs = s.run(feeds);
  for (const auto& [name, ref] : refs) {
    ASSERT_TRUE(outs.count(name)) << name;
    bool tm = false;
    for (const auto& v : s.output_info()) tm = tm || (v.name == name && v.time_major);
    const Tensor got = tm ? to_head_major(outs.at(name)) : outs.at(name);
    EXPECT_LE(test::relative_error(got, ref), 1e-4) << name;
  }
}

// Three steps, each feeding the previous presents back: from the second step on, every time-major
// present is a longer view of the same memory as the one before, and the logits equal those of a
// session that concatenates (the same graph without the option).
TEST_P(KvCacheInPlace, PresentsGrowInTheSameMemoryStepAfterStep) {
  const std::string dir = test::fixture("models/" + GetParam().dir);
  Session grow(dir + "/decoder_with_past_model.onnx", in_place());
  Session concat(dir + "/decoder_with_past_model.onnx");
  NamedTensors base = read_tensors_json(dir + "/ref/decoder_with_past_inputs.json");
  const std::set<std::string> tm = time_major_inputs(grow);
  NamedTensors a = base, b = base;
  for (const std::string& n : tm) a[n] = to_time_major(a.at(n));
  std::map<std::string, const void*> previous;
  for (int step = 0; step < 3; ++step) {
    NamedTensors oa = grow.run(a), ob = concat.run(b);
    EXPECT_EQ(test::relative_error(oa.at("logits"), ob.at("logits")), 0.0) << "step " << step;
    for (const std::string& past : tm) {
      const std::string present = "present" + past.substr(std::string("past_key_values").size());
      const Tensor& p = oa.at(present);
      EXPECT_EQ(test::relative_error(to_head_major(p), ob.at(present)), 0.0) << present;
      if (step > 0) EXPECT_EQ(p.raw(), previous[present]) << present << " was copied at step " << step;
      previous[present] = p.raw();
      a[past] = p;
      b[past] = ob.at(present);
    }
    if (!GetParam().encoder_decoder) {
      grow_mask(a);
      b["attention_mask"] = a["attention_mask"];
    }
  }
}

// A past appended to twice (the same step run again, say): the second append cannot take the room
// the first one used, so it copies, and the first present keeps its values.
TEST_P(KvCacheInPlace, AppendingTwiceToOnePastCopies) {
  const std::string dir = test::fixture("models/" + GetParam().dir);
  Session s(dir + "/decoder_with_past_model.onnx", in_place());
  NamedTensors feeds = read_tensors_json(dir + "/ref/decoder_with_past_inputs.json");
  const std::set<std::string> tm = time_major_inputs(s);
  for (const std::string& n : tm) feeds[n] = to_time_major(feeds.at(n));
  NamedTensors first = s.run(feeds);
  for (const std::string& past : tm) {
    const std::string present = "present" + past.substr(std::string("past_key_values").size());
    feeds[past] = first.at(present);
  }
  if (!GetParam().encoder_decoder) grow_mask(feeds);
  NamedTensors second = s.run(feeds);
  std::map<std::string, Tensor> kept;
  for (const auto& [n, t] : second) kept[n] = t.clone();
  NamedTensors again = s.run(feeds);  // appends to the same pasts as `second` did
  for (const std::string& past : tm) {
    const std::string present = "present" + past.substr(std::string("past_key_values").size());
    EXPECT_NE(again.at(present).raw(), second.at(present).raw()) << present;
    EXPECT_EQ(test::relative_error(second.at(present), kept.at(present)), 0.0) << present << " was overwritten";
    EXPECT_EQ(test::relative_error(again.at(present), kept.at(present)), 0.0) << present;
  }
}

// cache_rows: row r reads its past step t from batch row table[r][t] of the time-major caches. The
// same step with the caches physically rearranged that way (head-major, the graph as exported, no
// table) must give the same logits; left out, every row reads its own.
TEST_P(KvCacheInPlace, CacheRowsReadEachRowsStepsWhereTheTableSays) {
  const std::string dir = test::fixture("models/" + GetParam().dir);
  Session grow(dir + "/decoder_with_past_model.onnx", in_place());
  Session plain(dir + "/decoder_with_past_model.onnx");
  bool has_rows = false;
  for (const auto& v : grow.input_info()) has_rows = has_rows || (v.name == "cache_rows" && v.optional);
  ASSERT_TRUE(has_rows);
  NamedTensors feeds = read_tensors_json(dir + "/ref/decoder_with_past_inputs.json");
  const std::set<std::string> tm = time_major_inputs(grow);
  const Tensor& any = feeds.at(*tm.begin());
  const int64_t B = any.dim(0), T = any.dim(2);
  ASSERT_GE(B, 2);
  std::vector<int64_t> table((size_t)(B * T));
  for (int64_t r = 0; r < B; ++r)
    for (int64_t t = 0; t < T; ++t) table[(size_t)(r * T + t)] = (r + t + 1) % B;  // every row mixes others' steps
  NamedTensors a = feeds, b = feeds;
  for (const std::string& n : tm) {
    a[n] = to_time_major(feeds.at(n));
    const Tensor& x = feeds.at(n);  // [B, H, T, D]
    Tensor y(DType::F32, x.shape());
    const int64_t H = x.dim(1), D = x.dim(3);
    for (int64_t r = 0; r < B; ++r)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t)
          std::memcpy(y.data<float>() + ((r * H + h) * T + t) * D,
                      x.data<float>() + ((table[(size_t)(r * T + t)] * H + h) * T + t) * D, (size_t)D * sizeof(float));
    b[n] = y;
  }
  a["cache_rows"] = Tensor::from_vector<int64_t>({B, T}, table);
  const Tensor expected = plain.run(b).at("logits");
  EXPECT_LE(test::relative_error(grow.run(a).at("logits"), expected), 1e-6);
  EXPECT_GT(test::relative_error(plain.run(feeds).at("logits"), expected), 1e-3) << "the table changes nothing";
  a.erase("cache_rows");
  EXPECT_LE(test::relative_error(grow.run(a).at("logits"), plain.run(feeds).at("logits")), 1e-6);
  // A row outside the batch is refused, naming the input.
  a["cache_rows"] = Tensor::from_vector<int64_t>({B, 1}, std::vector<int64_t>((size_t)B, B));
  try {
    grow.run(a);
    ADD_FAILURE() << "no error";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("cache_rows"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, KvCacheInPlace,
                         ::testing::Values(DecoderCase{"t5-tiny", true}, DecoderCase{"bart-tiny", true},
                                           DecoderCase{"gpt2-tiny", false}),
                         [](const auto& info) {
                           std::string s = info.param.dir;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// A cache that something else reads too (here an extra graph output of the past) stays head-major
// and concatenated; the other caches are still rewritten.
TEST(KvCacheInPlaceRewrite, LeavesACacheWithAnotherReaderAlone) {
  kiln::Model m = load_model(test::fixture("models/t5-tiny/decoder_with_past_model.onnx"));
  const std::string watched = "past_key_values.0.decoder.key";
  Node id;
  id.op_type = "Identity";
  id.inputs = {watched};
  id.outputs = {"watched_copy"};
  m.graph.nodes.push_back(id);
  ValueInfo out;
  out.name = "watched_copy";
  out.dtype = DType::F32;
  m.graph.outputs.push_back(out);
  Session s(std::move(m), in_place());
  const std::set<std::string> tm = time_major_inputs(s);
  EXPECT_FALSE(tm.count(watched));
  EXPECT_TRUE(tm.count("past_key_values.0.decoder.value"));
  EXPECT_TRUE(tm.count("past_key_values.1.decoder.key"));
}

// Without the fused attention (optimization level 1) nothing is rewritten.
TEST(KvCacheInPlaceRewrite, NeedsTheFusedAttention) {
  SessionOptions o = in_place();
  o.optimization_level = 1;
  Session s(test::fixture("models/t5-tiny/decoder_with_past_model.onnx"), o);
  EXPECT_TRUE(time_major_inputs(s).empty());
}

// Buffers claim their spare room atomically and only at their used end.
TEST(BufferExtend, OnlyAtTheUsedEndAndOnlyOnce) {
  auto b = Buffer::allocate(1024);
  EXPECT_FALSE(b->try_extend(0, 64)) << "a buffer not made growable refuses";
  b->set_used_end(256);
  EXPECT_FALSE(b->try_extend(128, 512)) << "not at the used end";
  EXPECT_FALSE(b->try_extend(256, 2048)) << "past the buffer";
  EXPECT_TRUE(b->try_extend(256, 512));
  EXPECT_FALSE(b->try_extend(256, 512)) << "claimed already";
  EXPECT_TRUE(b->try_extend(512, 1024));
  float x[4] = {};
  auto v = Buffer::view(x, sizeof x, nullptr);
  v->set_used_end(0);
  EXPECT_FALSE(v->try_extend(0, 8)) << "memory kiln does not own is never written";
}

}  // namespace
