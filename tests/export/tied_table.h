// Tied lm_head: a decoder graph must hold the [vocab, dim] token table once, and no transposed
// [dim, vocab] copy of it (the lm_head reads the table through a Transpose).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "graph/onnx_io.h"

namespace kiln::test {

inline void expect_table_stored_once(const std::string& graph_file, int64_t vocab, int64_t dim) {
  SCOPED_TRACE(graph_file);
  Model m = load_model(graph_file);
  int tables = 0, transposed = 0;
  for (const auto& [name, t] : m.graph.initializers) {
    if (t.shape() == Shape{vocab, dim}) ++tables;
    if (t.shape() == Shape{dim, vocab}) ++transposed;
  }
  EXPECT_EQ(tables, 1);
  EXPECT_EQ(transposed, 0);
}

}  // namespace kiln::test
