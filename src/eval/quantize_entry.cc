// The public quantize_path (kiln/quantize.h): quantize/'s steps, with eval's labelled set scoring
// --accuracy-target. It is defined here, the layer above both, so that quantize/ never reaches up.
#include "eval/labelled_set.h"
#include "quantize/quantize_path.h"

namespace kiln::quantize {

Report quantize_path(const std::string& in, const std::string& out, const Options& options, const ProgressFn& progress) {
  static const AccuracyProbeMaker probe = eval::labelled_set_probe;
  return quantize_path_with(in, out, options, progress, &probe);
}

}  // namespace kiln::quantize
