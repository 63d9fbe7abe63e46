// The residual Add in a dequantizing product's epilogue (passes/quant_residual_fusion.cc): the session
// runs one kiln:MatMulIntegerToFloat instead of the product and the Add, and its values are bitwise
// those of the two nodes run apart (optimization level 0), for a residual of the product's shape (the
// epilogue) and for residuals that broadcast (added afterwards), on one and two threads.
#include <gtest/gtest.h>

#include <random>

#include "export/graph_builder.h"
#include "passes/passes.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

constexpr int64_t kM = 50, kK = 40, kN = 70;

// u8 a [kM, kK] x constant s8 [kK, kN], scales, zero point and bias, then Add(., r) (r first when
// r_first, as torch writes `x + attn`).
Model product_plus(bool r_first) {
  GraphBuilder b("res", 17);
  std::string a = b.input("a", DType::U8, {Dim{kM, ""}, Dim{kK, ""}});
  std::string r = b.input("r", DType::F32, {});
  std::mt19937 rng(4);
  Tensor w(DType::I8, {kK, kN});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = (int8_t)rng();
  std::string y = b.op("MatMulIntegerToFloat",
                       {a, b.initializer("w", w), b.initializer("a_scale", Tensor::scalar<float>(0.01f)),
                        b.initializer("b_scale", test::normal_tensor({kN}, 7, 0.02f)),
                        b.initializer("a_zp", Tensor::scalar<uint8_t>(120)), "",
                        b.initializer("bias", test::normal_tensor({kN}, 8, 0.5f))},
                       {}, "com.microsoft");
  std::string out = r_first ? b.op("Add", {r, y}) : b.op("Add", {y, r});
  b.output(out, "out", DType::F32, {});
  Model m = b.finish();
  m.set_opset("com.microsoft", 1);
  for (auto& v : m.graph.inputs)
    if (v.name == "r") v.shape = std::nullopt;  // any rank: the residuals below broadcast differently
  for (auto& v : m.graph.outputs) v.shape = std::nullopt;
  return m;
}

TEST(QuantResidualFusion, SameValuesAsTheProductAndTheAdd) {
  std::mt19937 rng(9);
  Tensor a(DType::U8, {kM, kK});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<uint8_t>()[i] = (uint8_t)rng();
  const Shape residuals[] = {{kM, kN}, {kN}, {1, kN}, {3, kM, kN}};
  for (bool r_first : {false, true})
    for (const Shape& rs : residuals)
      for (int threads : {1, 2}) {
        SCOPED_TRACE(shape_str(rs) + (r_first ? " r first" : "") + " threads " + std::to_string(threads));
        NamedTensors feeds{{"a", a}, {"r", test::normal_tensor(rs, 11, 1.f)}};
        SessionOptions fused_opt, plain_opt;
        fused_opt.threads = plain_opt.threads = threads;
        plain_opt.optimization_level = 0;
        Session fused(product_plus(r_first), fused_opt), plain(product_plus(r_first), plain_opt);
        EXPECT_EQ(test::count_op(fused.model().graph, "", "Add"), 0);
        EXPECT_EQ(test::count_op(fused.model().graph, "kiln", "MatMulIntegerToFloat"), 1);
        Tensor got = fused.run(feeds).at("out"), want = plain.run(feeds).at("out");
        ASSERT_EQ(got.shape(), want.shape());
        int64_t differ = 0;
        for (int64_t i = 0; i < got.numel(); ++i) differ += got.data<float>()[i] != want.data<float>()[i];
        EXPECT_EQ(differ, 0);
      }
}

}  // namespace
