#include "runtime/kernels/cpu/window.h"

#include "core/error.h"

namespace kiln::cpu {

WindowAttrs WindowAttrs::from(const Node& node) {
  WindowAttrs a;
  a.kernel = node.attr_ints("kernel_shape");
  a.strides = node.attr_ints("strides");
  a.dilations = node.attr_ints("dilations");
  a.pads = node.attr_ints("pads");
  a.auto_pad = node.attr_string("auto_pad", "NOTSET");
  a.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  return a;
}

Window resolve_window(const WindowAttrs& a, const std::vector<int64_t>& in, const Node& node) {
  Window w;
  w.nd = (int)in.size();
  w.in = in;
  w.kernel = a.kernel;
  KILN_CHECK((int)w.kernel.size() == w.nd, BadInput, "{}: kernel_shape has {} entries for {} spatial axes",
             node.label(), w.kernel.size(), w.nd);
  w.stride = a.strides.empty() ? std::vector<int64_t>(w.nd, 1) : a.strides;
  w.dilation = a.dilations.empty() ? std::vector<int64_t>(w.nd, 1) : a.dilations;
  KILN_CHECK((int)w.stride.size() == w.nd && (int)w.dilation.size() == w.nd, BadInput,
             "{}: strides/dilations do not match {} spatial axes", node.label(), w.nd);
  w.pad_begin.assign(w.nd, 0);
  w.pad_end.assign(w.nd, 0);
  w.out.assign(w.nd, 0);
  if (!a.pads.empty() && (a.auto_pad == "NOTSET" || a.auto_pad.empty())) {
    KILN_CHECK((int)a.pads.size() == 2 * w.nd, BadInput, "{}: pads has {} entries for {} spatial axes", node.label(),
               a.pads.size(), w.nd);
    for (int i = 0; i < w.nd; ++i) {
      w.pad_begin[i] = a.pads[i];
      w.pad_end[i] = a.pads[i + w.nd];
    }
  }
  for (int i = 0; i < w.nd; ++i) {
    KILN_CHECK(w.stride[i] > 0 && w.dilation[i] > 0 && w.kernel[i] > 0, BadInput,
               "{}: kernel, strides and dilations must be positive", node.label());
    int64_t span = (w.kernel[i] - 1) * w.dilation[i] + 1;
    if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
      w.out[i] = (in[i] + w.stride[i] - 1) / w.stride[i];
      int64_t total = std::max<int64_t>((w.out[i] - 1) * w.stride[i] + span - in[i], 0);
      int64_t small = total / 2, big = total - small;
      w.pad_begin[i] = a.auto_pad == "SAME_UPPER" ? small : big;
      w.pad_end[i] = total - w.pad_begin[i];
    } else if (a.auto_pad == "VALID") {
      w.out[i] = in[i] >= span ? (in[i] - span) / w.stride[i] + 1 : 0;
    } else {
      int64_t room = in[i] + w.pad_begin[i] + w.pad_end[i] - span;
      KILN_CHECK(room >= 0, BadInput, "{}: the window ({}) is larger than the padded input ({}) on spatial axis {}",
                 node.label(), span, in[i] + w.pad_begin[i] + w.pad_end[i], i);
      if (a.ceil_mode) {
        w.out[i] = (room + w.stride[i] - 1) / w.stride[i] + 1;
        // a window may not start inside the end padding only
        if ((w.out[i] - 1) * w.stride[i] >= in[i] + w.pad_begin[i]) --w.out[i];
      } else {
        w.out[i] = room / w.stride[i] + 1;
      }
    }
  }
  return w;
}

}  // namespace kiln::cpu
