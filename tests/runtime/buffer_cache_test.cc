// Steady state: a session running the same shapes again takes no new large block from the system
// (activations come back from the buffer cache), and the cache gives its blocks back on request.
#include <gtest/gtest.h>

#include "core/buffer.h"
#include "export/graph_builder.h"
#include "runtime/session.h"

using namespace kiln;
using namespace kiln::exporting;

namespace {

// Three chained 256 x 256 products: every activation is 256 KiB, counted by fresh_large_blocks().
Model chain() {
  GraphBuilder b("chain", 13);
  std::string x = b.input("x", DType::F32, {Dim{256, ""}, Dim{256, ""}});
  Tensor w(DType::F32, {256, 256});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = (i % 7 == 0) ? 0.01f : 0.f;
  std::string wn = b.initializer("W", w);
  std::string h = x;
  for (int i = 0; i < 3; ++i) h = b.op("Relu", {b.op("MatMul", {h, wn})});
  b.output(h, "y", DType::F32, {Dim{256, ""}, Dim{256, ""}});
  return b.finish();
}

TEST(BufferCache, SecondRunTakesNoNewLargeBlock) {
  Session s(chain(), {.threads = 1});
  Tensor x(DType::F32, {256, 256});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (float)(i % 13);
  { s.run({{"x", x}}); }  // first run: blocks come from the system
  size_t before = Buffer::fresh_large_blocks();
  for (int r = 0; r < 3; ++r) {
    NamedTensors out = s.run({{"x", x}});
    ASSERT_EQ(out.at("y").shape(), (Shape{256, 256}));
  }
  EXPECT_EQ(Buffer::fresh_large_blocks(), before);
  EXPECT_GT(Buffer::cached_bytes(), 0u);
  Buffer::release_cached();
  EXPECT_EQ(Buffer::cached_bytes(), 0u);
}

}  // namespace
