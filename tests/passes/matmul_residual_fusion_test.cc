// The residual Add in a float product's epilogue (passes/matmul_residual_fusion.cc): the session runs
// one kiln:MatMulBias instead of MatMul, Add(bias) and Add(residual); its values are those of the
// nodes run apart (optimization level 0; bitwise where kiln's own float kernel runs both, AVX-512) for
// a residual of the product's shape (the epilogue) and for residuals that broadcast (added
// afterwards), on one and two threads, with K over one 256-term block; and the fused graph agrees
// with ONNX Runtime on the same model.
#include <gtest/gtest.h>

#include <cmath>

#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "passes/passes.h"
#include "runtime/kernels/cpu/sgemm_packed.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

constexpr int64_t kM = 50, kK = 300, kN = 70;

// x [kM, kK] x constant W [kK, kN], Add(., bias), then Add(., r) (r first when r_first, as torch
// writes `x + attn`).
Model product_plus(bool r_first) {
  GraphBuilder b("res", 17);
  std::string x = b.input("x", DType::F32, {Dim{kM, ""}, Dim{kK, ""}});
  std::string r = b.input("r", DType::F32, {});
  std::string y = b.op("MatMul", {x, b.initializer("w", test::normal_tensor({kK, kN}, 7, 0.05f))});
  y = b.op("Add", {y, b.initializer("bias", test::normal_tensor({kN}, 8, 0.5f))});
  std::string out = r_first ? b.op("Add", {r, y}) : b.op("Add", {y, r});
  b.output(out, "out", DType::F32, {});
  Model m = b.finish();
  for (auto& v : m.graph.inputs)
    if (v.name == "r") v.shape = std::nullopt;  // any rank: the residuals below broadcast differently
  for (auto& v : m.graph.outputs) v.shape = std::nullopt;
  return m;
}

TEST(MatMulResidualFusion, SameValuesAsTheProductAndTheAdds) {
  const Tensor x = test::normal_tensor({kM, kK}, 9, 1.f);
  const Shape residuals[] = {{kM, kN}, {kN}, {1, kN}, {3, kM, kN}};
  const bool bitwise = cpu::PackedSgemmB::available();
  for (bool r_first : {false, true})
    for (const Shape& rs : residuals)
      for (int threads : {1, 2}) {
        SCOPED_TRACE(shape_str(rs) + (r_first ? " r first" : "") + " threads " + std::to_string(threads));
        NamedTensors feeds{{"x", x}, {"r", test::normal_tensor(rs, 11, 1.f)}};
        SessionOptions fused_opt, plain_opt;
        fused_opt.threads = plain_opt.threads = threads;
        plain_opt.optimization_level = 0;
        Session fused(product_plus(r_first), fused_opt), plain(product_plus(r_first), plain_opt);
        EXPECT_EQ(test::count_op(fused.model().graph, "", "Add"), 0);
        ASSERT_EQ(test::count_op(fused.model().graph, "kiln", "MatMulBias"), 1);
        for (const auto& n : fused.model().graph.nodes)
          if (n.op_type == "MatMulBias") EXPECT_EQ(n.inputs.size(), 4u);
        Tensor got = fused.run(feeds).at("out"), want = plain.run(feeds).at("out");
        ASSERT_EQ(got.shape(), want.shape());
        for (int64_t i = 0; i < got.numel(); ++i) {
          const float g = got.data<float>()[i], w = want.data<float>()[i];
          if (bitwise) ASSERT_EQ(g, w) << "at " << i;
          else ASSERT_NEAR(g, w, 1e-5f * (1.f + std::fabs(w))) << "at " << i;
        }
      }
}

// A product with GELU keeps its Add (the residual comes after the activation).
TEST(MatMulResidualFusion, LeavesAProductWithGeluAlone) {
  GraphBuilder b("gelu", 17);
  std::string x = b.input("x", DType::F32, {Dim{kM, ""}, Dim{kK, ""}});
  std::string r = b.input("r", DType::F32, {Dim{kM, ""}, Dim{kN, ""}});
  std::string y = b.op("MatMul", {x, b.initializer("w", test::normal_tensor({kK, kN}, 7, 0.05f))});
  y = b.op("Add", {y, b.initializer("bias", test::normal_tensor({kN}, 8, 0.5f))});
  y = b.op("Gelu", {y}, {}, "com.microsoft");
  b.output(b.op("Add", {y, r}), "out", DType::F32, {Dim{kM, ""}, Dim{kN, ""}});
  Model m = b.finish();
  m.set_opset("com.microsoft", 1);
  Session s(std::move(m));
  EXPECT_EQ(test::count_op(s.model().graph, "", "Add"), 1);
}

TEST(MatMulResidualFusion, AgreesWithOnnxRuntime) {
  KILN_REQUIRE(test::have_ort(), "ONNX Runtime peer (scripts/install-peers)");
  test::ScratchDir dir("matmul_residual");
  const std::string path = dir.path.string() + "/model.onnx";
  save_model(product_plus(false), path);
  NamedTensors feeds{{"x", test::normal_tensor({kM, kK}, 9, 1.f)}, {"r", test::normal_tensor({kM, kN}, 11, 1.f)}};
  for (const auto& [name, err] : test::kiln_vs_ort(path, feeds, dir.path.string())) EXPECT_LT(err, 1e-6) << name;
}

}  // namespace
