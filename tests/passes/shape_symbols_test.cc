// ShapeSymbols: the sizes a graph computes from Shape/Gather/Unsqueeze/Concat/Mul read as products
// of run-time dimensions, and the dimensions of Reshape / Transpose / Concat outputs and graph
// inputs; what it cannot read stays unknown (an atom of the value itself), never guessed.
#include <gtest/gtest.h>

#include "export/graph_builder.h"
#include "passes/pattern.h"
#include "passes/shape_symbols.h"

using namespace kiln;

namespace {

struct Built {
  Model model;
  std::string tokens, heads, moved, cat, inferred, sum, bh;
};

// x [batch, seq, 64]; tokens = Reshape(x, [Shape(x)[0], Shape(x)[1], 4, 16]); heads = its Transpose
// 0213; cat = Concat(past [batch, 4, P, 16], heads) on axis 2; inferred = Reshape(x, [0, -1, 16]);
// bh = Shape(x)[0] * 4; sum = Add of two shapes (not read).
Built build() {
  GraphBuilder b("sizes", 13);
  auto dyn = [](const char* n) { return Dim{std::nullopt, n}; };
  Built r;
  std::string x = b.input("x", DType::F32, {dyn("batch"), dyn("seq"), Dim{64, ""}});
  std::string past = b.input("past", DType::F32, {dyn("batch"), Dim{4, ""}, dyn("past"), Dim{16, ""}});
  auto dim_of = [&](const std::string& v, int64_t i) {
    return b.op("Gather", {b.op("Shape", {v}), b.const_i64({i}, true)});
  };
  std::string bsz = dim_of(x, 0), len = dim_of(x, 1);
  std::string target = b.op("Concat", {b.unsqueeze(bsz, {0}), b.unsqueeze(len, {0}), b.const_i64({4}), b.const_i64({16})},
                            {{"axis", attr_int(0)}});
  r.tokens = b.op("Reshape", {x, target});
  r.heads = b.op("Transpose", {r.tokens}, {{"perm", attr_ints({0, 2, 1, 3})}});
  r.cat = b.op("Concat", {past, r.heads}, {{"axis", attr_int(2)}});
  r.inferred = b.op("Reshape", {x, b.const_i64({0, -1, 16})});
  r.bh = b.op("Mul", {bsz, b.const_i64({4}, true)});
  r.sum = b.op("Add", {b.op("Shape", {x}), b.op("Shape", {past})});
  b.output(r.cat, "y", DType::F32, {dyn("batch"), Dim{4, ""}, dyn("t"), Dim{16, ""}});
  r.model = b.finish();
  return r;
}

TEST(ShapeSymbols, ReadsSizesAndDimensions) {
  Built t = build();
  const Graph& g = t.model.graph;
  GraphIndex ix(g);
  ShapeSymbols ss(g, ix);
  const SymDim b = SymDim::atom("x", 0), s = SymDim::atom("x", 1), four = SymDim::constant(4);

  // The Reshape target's entries, and the Reshape output's dimensions through it.
  auto target = ss.entries(g.nodes[ix.producer(t.tokens)].inputs[1]);
  ASSERT_TRUE(target);
  ASSERT_EQ(target->size(), 4u);
  EXPECT_EQ(*(*target)[0], b);
  EXPECT_EQ(*(*target)[1], s);
  EXPECT_EQ(*(*target)[3], SymDim::constant(16));
  EXPECT_EQ(ss.rank(t.tokens), 4);
  EXPECT_EQ(ss.dim(t.tokens, 2), four);

  // Through the Transpose, and off the Concat's axis (the cache input declares 4 and 16).
  EXPECT_EQ(ss.dim(t.heads, 1), four);
  EXPECT_EQ(ss.dim(t.heads, 2), s);
  EXPECT_EQ(ss.dim(t.cat, 0), b);
  EXPECT_EQ(ss.dim(t.cat, 3), SymDim::constant(16));
  EXPECT_EQ(ss.dim(t.cat, 2), SymDim::atom(t.cat, 2));  // the concatenated axis: unknown
  EXPECT_EQ(ss.dim("x", 2), SymDim::constant(64));      // declared fixed size

  // A product: Shape(x)[0] * 4 is the tokens' batch times heads, and nothing else.
  auto bh = ss.entries(t.bh);
  ASSERT_TRUE(bh);
  ASSERT_EQ(bh->size(), 1u);
  EXPECT_EQ(*(*bh)[0], ss.dim(t.tokens, 0) * ss.dim(t.tokens, 2));
  EXPECT_NE(*(*bh)[0], b);
  EXPECT_NE(*(*bh)[0], s * four);

  // 0 (copy) and -1 (inferred) are not sizes: the dimension stays the value's own unknown.
  EXPECT_EQ(ss.dim(t.inferred, 0), SymDim::atom(t.inferred, 0));
  EXPECT_EQ(ss.dim(t.inferred, 1), SymDim::atom(t.inferred, 1));
  EXPECT_EQ(ss.dim(t.inferred, 2), SymDim::constant(16));

  // Arithmetic it does not read.
  EXPECT_FALSE(ss.entries(t.sum));
}

}  // namespace
