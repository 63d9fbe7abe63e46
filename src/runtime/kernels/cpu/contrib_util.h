// Input checks shared by the com.microsoft kernels (contrib_*.cc), which run in float32 only.
#pragma once
#include "core/error.h"
#include "core/tensor.h"
#include "runtime/kernel.h"

namespace kiln::cpu {

inline void require_f32(const Node& node, const Tensor& t, const char* what) {
  KILN_CHECK(t.dtype() == DType::F32, Unsupported, "{}: {} must be float32 (got {}); kiln runs this op in float32 only",
             node.label(), what, dtype_name(t.dtype()));
}

// A 1-D per-channel vector of length `n` (bias, gamma, beta), or null when absent.
inline const float* channel_vector(const Node& node, const Tensor* t, int64_t n, const char* what) {
  if (!t) return nullptr;
  require_f32(node, *t, what);
  KILN_CHECK(t->numel() == n, BadInput, "{}: {} must have {} values (the last dimension), not {}", node.label(), what,
             n, t->numel());
  return t->data<float>();
}

}  // namespace kiln::cpu
