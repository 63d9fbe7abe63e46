// make_cnn_model NAME OUT.onnx: writes one of the benchmark CNN graphs of bench/cnn_graph.h
// (NAME: cnn-mobilenet, MobileNetV2's structure at 224 x 224; cnn-pointwise, one 1x1 Conv 240 -> 240 on
// 12 x 80) with deterministic random weights. bench/compare runs it for those names.
#include <cstdio>
#include <string>

#include "cnn_graph.h"
#include "core/error.h"
#include "graph/onnx_io.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_cnn_model cnn-mobilenet|cnn-pointwise OUT.onnx\n");
    return 2;
  }
  std::string name = argv[1];
  try {
    kiln::Model m;
    if (name == "cnn-mobilenet") m = kiln::bench::mobilenet_like();
    else if (name == "cnn-pointwise") m = kiln::bench::pointwise_conv();
    else {
      std::fprintf(stderr, "make_cnn_model: unknown graph '%s'; use cnn-mobilenet or cnn-pointwise\n", name.c_str());
      return 2;
    }
    kiln::save_model(m, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_cnn_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
