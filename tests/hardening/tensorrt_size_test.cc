// kiln quantize --preset tensorrt --static on the fixtures: the file holds no initializer nothing
// reads (the 124 % came from the replaced originals left behind), loads and runs in kiln and
// in ONNX Runtime within int8 tolerance of the float model (ONNX Runtime on the float file as the
// reference). The preset stores int8 weights + DequantizeLinear, so its file is smaller than the
// float one; --qdq-weight-pairs keeps Optimum's form, float weights each with a QuantizeLinear /
// DequantizeLinear pair: the float file plus scales and Q/DQ nodes.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/tensor_json.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
namespace fs = std::filesystem;

namespace {

void reads_of(const Graph& g, std::set<std::string>& out) {
  for (const auto& n : g.nodes) {
    out.insert(n.inputs.begin(), n.inputs.end());
    for (const auto& [_, a] : n.attributes)
      if (a.g) {
        reads_of(*a.g, out);
        for (const auto& o : a.g->outputs) out.insert(o.name);
      }
  }
  for (const auto& o : g.outputs) out.insert(o.name);
}

void check_tensorrt(const std::string& fixture, const std::string& extra, bool expect_smaller) {
  SCOPED_TRACE(fixture + " " + extra);
  std::string dir = test::fixture("models/" + fixture);
  std::string in = dir + "/model.onnx";
  test::ScratchDir d("kiln-trt");
  fs::path out = d.path / "trt.onnx";
  std::string log;
  int rc = test::run_command(test::kiln_binary() + " quantize " + in + " " + out.string() +
                                 " --preset tensorrt --static --calibration-data " + dir + "/ref/case0_inputs.json " + extra,
                             &log);
  ASSERT_EQ(rc, 0) << log;
  Model m = load_model(out.string());
  std::set<std::string> reads;
  reads_of(m.graph, reads);
  for (const auto& [name, _] : m.graph.initializers) EXPECT_TRUE(reads.count(name)) << "unused initializer " << name;
  int qdq = 0;
  for (const auto& n : m.graph.nodes) qdq += n.op_type == "DequantizeLinear";
  EXPECT_GT(qdq, 10);
  uintmax_t float_bytes = fs::file_size(in), trt_bytes = fs::file_size(out);
  if (expect_smaller) EXPECT_LT(trt_bytes, float_bytes) << trt_bytes << " vs " << float_bytes;
  else EXPECT_LT(trt_bytes, float_bytes * 105 / 100) << trt_bytes << " vs " << float_bytes;  // scales, Q/DQ nodes

  NamedTensors feeds = read_tensors_json(dir + "/ref/case1_inputs.json");
  NamedTensors ref = read_tensors_json(dir + "/ref/case1_outputs.json");  // PyTorch, float
  const std::string out_name = m.graph.outputs[0].name;
  NamedTensors got = Session(out.string()).run(feeds);
  // Symmetric int8 activations calibrated on case 0 and run on case 1 of a 2-layer model with
  // logits near zero: about 12 % of the largest logit.
  const double tol = 0.15;
  EXPECT_LT(test::relative_error(got.at(out_name), ref.at(out_name)), tol) << "kiln";
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  NamedTensors o = test::run_ort(out.string(), feeds, d.path.string());
  EXPECT_LT(test::relative_error(o.at(out_name), ref.at(out_name)), tol) << "ONNX Runtime";
  EXPECT_LT(test::relative_error(o.at(out_name), got.at(out_name)), 0.05) << "kiln vs ONNX Runtime";
}

TEST(TensorRtPreset, OptimumFormHasNoDeadWeights) {
  check_tensorrt("bert-tiny", "--qdq-weight-pairs", false);
  check_tensorrt("distilbert-tiny", "--qdq-weight-pairs", false);
}

TEST(TensorRtPreset, IsSmallerThanFloat) {
  check_tensorrt("bert-tiny", "", true);
  check_tensorrt("distilbert-tiny", "", true);
}

}  // namespace
