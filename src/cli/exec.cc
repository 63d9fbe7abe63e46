// kiln exec MODEL.onnx --inputs IN.json [--output OUT.json] [--threads N] [--device cpu|cuda[:N]]
//   [--max-tensor-bytes N] [--timeout-ms N] [--max-model-bytes N] [--max-subgraph-depth N]
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "core/tensor_json.h"
#include "kiln/session.h"

KILN_COMMAND(exec_command, "exec", "Run an ONNX graph on tensors given as JSON") {
  struct Opts {
    std::string model, inputs, output, device = "cpu";
    int threads = 0;
    size_t max_tensor_bytes = kiln::SessionOptions::kDefaultMaxTensorBytes;
    int64_t timeout_ms = 0;
    struct {  // SessionOptions' limits on reading the file
    uint64_t max_model_bytes = kiln::SessionOptions::kDefaultMaxModelBytes;
    int max_subgraph_depth = kiln::SessionOptions::kDefaultMaxSubgraphDepth;
  } load;
    int opt_level = 2;
    std::vector<std::string> outputs;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "ONNX model file")->required();
  sub.add_option("--inputs,-i", o->inputs, "input tensors as JSON ({name: {dtype, dims, data}})")->required();
  sub.add_option("--output,-o", o->output, "write output tensors here (default: stdout)");
  sub.add_option("--threads", o->threads, "threads (0 = one per core)");
  sub.add_option("--device", o->device, "where the graph runs: cpu (default), cuda or cuda:N");
  sub.add_option("--max-tensor-bytes", o->max_tensor_bytes, "largest tensor the run may allocate (0 = no limit)");
  sub.add_option("--timeout-ms", o->timeout_ms, "wall-clock limit of the run in ms (0 = none)");
  sub.add_option("--max-model-bytes", o->load.max_model_bytes, "largest .onnx file read, external data not counted");
  sub.add_option("--max-subgraph-depth", o->load.max_subgraph_depth, "deepest nesting of subgraphs (0 = no limit)");
  sub.add_option("--optimization-level", o->opt_level, "0 none, 1 constant folding, 2 fusions");
  sub.add_option("--output-names", o->outputs, "only these outputs")->delimiter(',');
  return [o] {
    kiln::SessionOptions so;
    so.device = kiln::parse_device(o->device);
    kiln::NamedTensors feeds = kiln::read_tensors_json(o->inputs);
    so.threads = o->threads;
    so.max_tensor_bytes = o->max_tensor_bytes;
    so.run_timeout_ms = o->timeout_ms;
    so.max_model_bytes = o->load.max_model_bytes;
    so.max_subgraph_depth = o->load.max_subgraph_depth;
    so.optimization_level = o->opt_level;
    kiln::Session session(o->model, so);
    kiln::NamedTensors outs = session.run(feeds, o->outputs);
    std::string text = kiln::tensors_to_json_text(outs);
    if (o->output.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    else kiln::write_file_atomic(o->output, text);
    return 0;
  };
}
