// The numpy matmul view of two operand shapes (batched, broadcast batch dimensions, 1-D operands),
// shared by MatMul, MatMulInteger, QLinearMatMul and the com.microsoft quantized products.
#pragma once
#include "runtime/kernels/cpu/common.h"

namespace kiln::cpu {

// The numpy matmul view of two shapes.
struct MatMulDims {
  int64_t M = 1, K = 1, N = 1;
  Shape batch, a_batch, b_batch;  // batch shapes, a_/b_ padded to batch's rank
  Shape out;
};

inline MatMulDims matmul_dims(const Shape& a, const Shape& b, const Node& node) {
  KILN_CHECK(!a.empty() && !b.empty(), BadInput, "{}: MatMul operands must have rank 1 or more, got {} and {}",
             node.label(), shape_str(a), shape_str(b));
  MatMulDims d;
  Shape am = a.size() == 1 ? Shape{1, a[0]} : a;
  Shape bm = b.size() == 1 ? Shape{b[0], 1} : b;
  d.M = am[am.size() - 2];
  d.K = am.back();
  d.N = bm.back();
  KILN_CHECK(bm[bm.size() - 2] == d.K, BadInput, "{}: cannot multiply {} by {} (inner dimensions {} and {} differ)",
             node.label(), shape_str(a), shape_str(b), d.K, bm[bm.size() - 2]);
  Shape ab(am.begin(), am.end() - 2), bb(bm.begin(), bm.end() - 2);
  d.batch = broadcast_shapes({ab, bb}, node);
  d.a_batch = Shape(d.batch.size() - ab.size(), 1);
  d.a_batch.insert(d.a_batch.end(), ab.begin(), ab.end());
  d.b_batch = Shape(d.batch.size() - bb.size(), 1);
  d.b_batch.insert(d.b_batch.end(), bb.begin(), bb.end());
  d.out = d.batch;
  if (a.size() > 1) d.out.push_back(d.M);
  if (b.size() > 1) d.out.push_back(d.N);
  return d;
}

// Calls f(out_batch_index, a_matrix_index, b_matrix_index) for every output matrix.
template <typename F>
void for_each_batch(const MatMulDims& d, F&& f) {
  int64_t nb = shape_numel(d.batch);
  if (d.batch.empty()) {
    f(0, 0, 0);
    return;
  }
  auto sa = broadcast_strides(d.a_batch, d.batch), sb = broadcast_strides(d.b_batch, d.batch);
  auto so = contiguous_strides(d.batch);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t oa = 0, ob = 0, rem = i;
    for (size_t k = 0; k < d.batch.size(); ++k) {
      int64_t idx = rem / so[k];
      rem %= so[k];
      oa += idx * sa[k];
      ob += idx * sb[k];
    }
    f(i, oa, ob);
  }
}

}  // namespace kiln::cpu
