// Einsum: literal cases worked out by hand (matmul, implicit output, diagonal, ellipsis).
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Attribute eq(const char* s) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = s;
  return a;
}
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

TEST(Einsum, MatmulExplicitAndImplicit) {
  Tensor a = f32({2, 2}, {1, 2, 3, 4}), b = f32({2, 2}, {5, 6, 7, 8});
  std::vector<float> want{19, 22, 43, 50};
  EXPECT_EQ(run_single_node({"Einsum", "", {{"equation", eq("ij,jk->ik")}}, 12}, {a, b})[0].to_vector<float>(), want);
  // implicit output: letters used once, alphabetical -> "ik"
  EXPECT_EQ(run_single_node({"Einsum", "", {{"equation", eq("ij,jk")}}, 12}, {a, b})[0].to_vector<float>(), want);
  // "ba" transposes
  EXPECT_EQ(run_single_node({"Einsum", "", {{"equation", eq("ab->ba")}}, 12}, {a})[0].to_vector<float>(),
            (std::vector<float>{1, 3, 2, 4}));
}

TEST(Einsum, DiagonalTraceAndEllipsis) {
  Tensor a = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run_single_node({"Einsum", "", {{"equation", eq("ii->i")}}, 12}, {a})[0].to_vector<float>(),
            (std::vector<float>{1, 4}));
  auto tr = run_single_node({"Einsum", "", {{"equation", eq("ii")}}, 12}, {a})[0];
  EXPECT_EQ(tr.shape(), Shape{});
  EXPECT_FLOAT_EQ(tr.data<float>()[0], 5.f);
  // batch dims through the ellipsis: row sums of each matrix
  auto y = run_single_node({"Einsum", "", {{"equation", eq("...ij->...i")}}, 12},
                           {f32({2, 1, 2}, {1, 2, 3, 4})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 7}));
}

}  // namespace
}  // namespace kiln::test
