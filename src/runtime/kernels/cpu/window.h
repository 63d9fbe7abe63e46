// Sliding-window geometry shared by the pooling and convolution kernels: kernel, strides,
// dilations, pads (explicit or auto_pad) and the output size along each spatial axis.
#pragma once
#include <string>
#include <vector>

#include "graph/graph.h"

namespace kiln::cpu {

struct WindowAttrs {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends (as in ONNX)
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;

  // Reads kernel_shape, strides, dilations, pads, auto_pad, ceil_mode. `kernel` may be filled later
  // (Conv takes it from the weights when the attribute is absent).
  static WindowAttrs from(const Node& node);
};

struct Window {
  int nd = 0;                             // number of spatial axes
  std::vector<int64_t> in, out, kernel, stride, dilation, pad_begin, pad_end;
};

// Resolves the geometry for spatial input sizes `in`: fills defaults, applies auto_pad, computes the
// output sizes. Throws BadInput (naming the node) when the window does not fit.
Window resolve_window(const WindowAttrs& a, const std::vector<int64_t>& in, const Node& node);

}  // namespace kiln::cpu
