// The public quantize_path (kiln/quantize.h): quantize/'s, with eval's labelled set scoring
// --accuracy-target. It is defined here, the layer above both, so that quantize/ never reaches up;
// it goes through the public overload that takes the probe maker.
#include "eval/labelled_set.h"
#include "kiln/quantize.h"

namespace kiln::quant {

Report quantize_path(const std::string& in, const std::string& out, const Options& options, const ProgressFn& progress) {
  return quantize_path(in, out, options, progress, AccuracyProbeMaker(eval::labelled_set_probe));
}

}  // namespace kiln::quant
