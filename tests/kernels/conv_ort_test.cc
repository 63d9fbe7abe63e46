// Conv (oneDNN path, fused activations) and pooling against ONNX Runtime on small generated graphs:
// pointwise, k x k with pads / strides / dilations, grouped and depthwise, with and without bias,
// 1-D and 3-D, weights constant or fed at run time, batch 2. One graph with many outputs, so ONNX
// Runtime starts once.
#include <gtest/gtest.h>

#include <thread>

#include "../bench/cnn_graph.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

namespace kiln::test {
namespace {

using kiln::attr_float;
using kiln::attr_int;
using kiln::attr_ints;
using kiln::attr_string;

Attribute attr_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(v);
  return a;
}

Tensor random_tensor(bench::WeightRng& rng, Shape s, float scale) { return rng.tensor(std::move(s), scale); }

struct ConvCase {
  std::string name;
  std::vector<int64_t> x_shape;  // which input: chosen by rank
  int64_t cout;
  std::vector<int64_t> kernel;
  std::map<std::string, Attribute> attrs;
  bool bias;
  std::string activation;  // "" or an ONNX op applied to the Conv's output (fused by kiln)
};

TEST(ConvVsOrt, VariantsMatchOnnxRuntime) {
  KILN_REQUIRE(have_ort(), "ONNX Runtime peer (make peers)");
  bench::WeightRng rng(42);
  exporting::GraphBuilder b("conv_variants", 17);
  std::string x2 = b.input("x2", DType::F32, {Dim{2, ""}, Dim{8, ""}, Dim{11, ""}, Dim{13, ""}});
  std::string x1 = b.input("x1", DType::F32, {Dim{2, ""}, Dim{4, ""}, Dim{17, ""}});
  std::string x3 = b.input("x3", DType::F32, {Dim{2, ""}, Dim{4, ""}, Dim{5, ""}, Dim{6, ""}, Dim{7, ""}});
  std::string wfed = b.input("w_fed", DType::F32, {Dim{6, ""}, Dim{8, ""}, Dim{3, ""}, Dim{3, ""}});
  auto ints = [](std::vector<int64_t> v) { return attr_ints(std::move(v)); };
  std::vector<ConvCase> cases = {
      {"pointwise_bias", {2, 8, 11, 13}, 12, {1, 1}, {}, true, ""},
      {"k3_pad1_nobias", {2, 8, 11, 13}, 6, {3, 3}, {{"pads", ints({1, 1, 1, 1})}}, false, ""},
      {"k3_s2_d2_asym", {2, 8, 11, 13}, 5, {3, 3},
       {{"pads", ints({2, 1, 1, 2})}, {"strides", ints({2, 2})}, {"dilations", ints({2, 2})}}, true, "Relu"},
      {"grouped", {2, 8, 11, 13}, 6, {3, 3}, {{"pads", ints({1, 1, 1, 1})}, {"group", attr_int(2)}}, true, ""},
      {"depthwise_relu6", {2, 8, 11, 13}, 8, {3, 3},
       {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}, {"group", attr_int(8)}}, true, "Relu6"},
      {"depthwise_x2", {2, 8, 11, 13}, 16, {3, 3}, {{"pads", ints({1, 1, 1, 1})}, {"group", attr_int(8)}}, false,
       "HardSwish"},
      {"k5x3_s12", {2, 8, 11, 13}, 7, {5, 3}, {{"strides", ints({1, 2})}}, true, "LeakyRelu"},
      {"same_upper_s2", {2, 8, 11, 13}, 4, {3, 3}, {{"auto_pad", attr_string("SAME_UPPER")}, {"strides", ints({2, 2})}},
       true, "Sigmoid"},
      {"conv1d_d2", {2, 4, 17}, 6, {3}, {{"dilations", ints({2})}, {"pads", ints({2, 2})}}, true, "HardSigmoid"},
      {"conv3d", {2, 4, 5, 6, 7}, 3, {2, 3, 3}, {{"pads", ints({0, 1, 1, 1, 1, 0})}}, true, "Tanh"},
  };
  int out_i = 0;
  for (const auto& c : cases) {
    const std::string& x = c.x_shape.size() == 3 ? x1 : c.x_shape.size() == 5 ? x3 : x2;
    int64_t cin = c.x_shape[1];
    int64_t group = c.attrs.count("group") ? c.attrs.at("group").i : 1;
    Shape ws{c.cout, cin / group};
    for (int64_t k : c.kernel) ws.push_back(k);
    std::vector<std::string> ins{x, b.initializer(c.name + ".w", random_tensor(rng, ws, 0.5f))};
    if (c.bias) ins.push_back(b.initializer(c.name + ".b", random_tensor(rng, {c.cout}, 0.5f)));
    auto attrs = c.attrs;
    attrs["kernel_shape"] = ints(c.kernel);
    std::string y = b.op("Conv", ins, attrs);
    if (c.activation == "Relu6") y = b.op("Clip", {y, b.const_f32(0.f), b.const_f32(6.f)});
    else if (c.activation == "LeakyRelu") y = b.op("LeakyRelu", {y}, {{"alpha", attr_float(0.1f)}});
    else if (c.activation == "HardSigmoid") y = b.op("HardSigmoid", {y}, {{"alpha", attr_float(0.3f)}});
    else if (!c.activation.empty()) y = b.op(c.activation, {y});
    b.output(y, c.name, DType::F32, {});
    ++out_i;
  }
  // ONNX Runtime's FusedConv with its Z input (added before the activation), 2-D and 1-D.
  std::string z2 = b.input("z2", DType::F32, {Dim{2, ""}, Dim{6, ""}, Dim{11, ""}, Dim{13, ""}});
  std::string z1 = b.input("z1", DType::F32, {Dim{2, ""}, Dim{5, ""}, Dim{15, ""}});
  b.output(b.op("FusedConv",
                {x2, b.initializer("fz2.w", random_tensor(rng, {6, 8, 3, 3}, 0.5f)),
                 b.initializer("fz2.b", random_tensor(rng, {6}, 0.5f)), z2},
                {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}, {"activation", attr_string("Relu")}},
                "com.microsoft"),
           "fused_conv_z", DType::F32, {});
  b.output(b.op("FusedConv", {x1, b.initializer("fz1.w", random_tensor(rng, {5, 4, 3}, 0.5f)), "", z1},
                {{"kernel_shape", ints({3})}, {"activation", attr_string("Clip")},
                 {"activation_params", attr_floats({-0.5f, 0.5f})}},
                "com.microsoft"),
           "fused_conv1d_z", DType::F32, {});
  // Weights fed at run time (reordered per call), and the pooling ops.
  b.output(b.op("Conv", {x2, wfed}, {{"pads", ints({0, 1, 2, 1})}}), "fed_weights", DType::F32, {});
  b.output(b.op("MaxPool", {x2}, {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}),
           "maxpool", DType::F32, {});
  b.output(b.op("MaxPool", {x2}, {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", attr_int(1)},
                                  {"dilations", ints({1, 2})}}),
           "maxpool_ceil_dilated", DType::F32, {});
  b.output(b.op("AveragePool", {x2}, {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}),
           "avgpool_exclude_pad", DType::F32, {});
  b.output(b.op("AveragePool", {x2}, {{"kernel_shape", ints({2, 3})}, {"strides", ints({1, 2})}, {"pads", ints({1, 1, 0, 1})},
                                      {"count_include_pad", attr_int(1)}}),
           "avgpool_include_pad", DType::F32, {});
  b.output(b.op("AveragePool", {x1}, {{"kernel_shape", ints({4})}, {"strides", ints({3})}, {"ceil_mode", attr_int(1)}}),
           "avgpool1d_ceil", DType::F32, {});
  b.output(b.op("GlobalAveragePool", {x2}), "global_avg", DType::F32, {});
  b.output(b.op("GlobalMaxPool", {x3}), "global_max", DType::F32, {});
  ScratchDir d("conv_vs_ort");
  std::string path = (d.path / "conv_variants.onnx").string();
  Model m = b.finish();
  for (auto& o : m.graph.outputs) o.shape.reset();  // left to shape inference
  m.set_opset("com.microsoft", 1);
  save_model(m, path);

  NamedTensors feeds{{"x2", random_tensor(rng, {2, 8, 11, 13}, 1.f)},
                     {"x1", random_tensor(rng, {2, 4, 17}, 1.f)},
                     {"x3", random_tensor(rng, {2, 4, 5, 6, 7}, 1.f)},
                     {"w_fed", random_tensor(rng, {6, 8, 3, 3}, 0.5f)},
                     {"z2", random_tensor(rng, {2, 6, 11, 13}, 1.f)},
                     {"z1", random_tensor(rng, {2, 5, 15}, 1.f)}};
  auto errs = kiln_vs_ort(path, feeds, d.path.string());
  EXPECT_EQ(errs.size(), (size_t)out_i + 10);
  for (const auto& [name, err] : errs) EXPECT_LT(err, 1e-5) << name;
}

// The MobileNetV2-structured benchmark graph (bench/cnn_graph.h), at 64 x 64 and a quarter of the
// width, batch 2: every Conv kind, fused Relu6, residual Adds, GlobalAveragePool and Gemm end to end.
TEST(ConvVsOrt, MobilenetLikeGraphMatchesOnnxRuntime) {
  KILN_REQUIRE(have_ort(), "ONNX Runtime peer (make peers)");
  ScratchDir d("cnn_vs_ort");
  std::string path = (d.path / "cnn.onnx").string();
  save_model(bench::mobilenet_like(64, 4, 10), path);
  bench::WeightRng rng(3);
  NamedTensors feeds{{"input", rng.tensor({2, 3, 64, 64}, 1.f)}};
  auto errs = kiln_vs_ort(path, feeds, d.path.string());
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_LT(errs.at("logits"), 1e-5);
}

// One session run from several threads at once (primitives shared, scratch memory per thread) gives
// each thread the same result as a run alone, bit for bit.
TEST(ConvVsOrt, ConcurrentRunsOfOneSessionAgree) {
  SessionOptions opts;
  opts.threads = 1;
  Session s(bench::mobilenet_like(32, 4, 10), opts);
  bench::WeightRng rng(5);
  std::vector<NamedTensors> feeds;
  for (int i = 0; i < 4; ++i) feeds.push_back({{"input", rng.tensor({1 + i % 2, 3, 32, 32}, 1.f)}});
  std::vector<Tensor> alone;
  for (const auto& f : feeds) alone.push_back(s.run(f).at("logits"));
  std::vector<std::vector<float>> got(feeds.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < feeds.size(); ++i)
    threads.emplace_back([&, i] {
      for (int r = 0; r < 3; ++r) got[i] = s.run(feeds[i]).at("logits").to_vector<float>();
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < feeds.size(); ++i) EXPECT_EQ(got[i], alone[i].to_vector<float>()) << "thread " << i;
}

}  // namespace
}  // namespace kiln::test
