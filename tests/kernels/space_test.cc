// DepthToSpace (DCR and CRD) and SpaceToDepth: literal cases from the spec's reshape/transpose.
#include <gtest/gtest.h>

#include "single_node.h"

namespace kiln::test {
namespace {

Tensor iota(Shape s) {
  std::vector<int64_t> v(shape_numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (int64_t)i;
  return Tensor::from_vector<int64_t>(s, v);
}

TEST(DepthToSpace, DcrAndCrdOrderTheChannelsDifferently) {
  // 4 channels of one pixel each, blocksize 2 -> one channel of 2x2.
  // DCR: channel index = (bh * 2 + bw) * c_out + c; CRD: channel index = c * 4 + bh * 2 + bw.
  Tensor x = iota({1, 8, 1, 1});  // 2 output channels
  SingleNode dcr{"DepthToSpace", "", {{"blocksize", attr_int(2)}}, 13};
  auto y = run_single_node(dcr, {x})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 4, 6, 1, 3, 5, 7}));
  Attribute crd;
  crd.kind = Attribute::Kind::String;
  crd.s = "CRD";
  SingleNode c{"DepthToSpace", "", {{"blocksize", attr_int(2)}, {"mode", crd}}, 13};
  EXPECT_EQ(run_single_node(c, {x})[0].to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(SpaceToDepth, InvertsDcr) {
  // a 2x2 plane [[0,1],[2,3]] becomes 4 channels in the order (bh, bw)
  SingleNode s{"SpaceToDepth", "", {{"blocksize", attr_int(2)}}, 13};
  auto y = run_single_node(s, {iota({1, 1, 2, 2})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 4, 1, 1}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(run_single_node(s, {iota({1, 1, 3, 2})}), BadInput);
}

}  // namespace
}  // namespace kiln::test
