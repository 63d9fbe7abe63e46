// A small, explicit API for writing ONNX graphs in C++ (architecture builders, quantizer tests).
// Values are names; every op call returns the name of its (first) output.
//
// The builder writes what the model's opset allows: op() moves the axes of Squeeze/Unsqueeze/Split
// (inputs from opset 13) and of ReduceMean & co. (inputs from opset 18; ReduceSum from 13) between
// attribute and input form, whichever way the caller wrote them, and writes LayerNormalization
// below opset 17 (where it does not exist) as the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add
// chain torch.onnx.export writes at opset 13.
#pragma once
#include <string>
#include <vector>

#include "graph/graph.h"

namespace kiln::exporting {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string graph_name, int64_t opset = 17);

  std::string input(const std::string& name, DType dtype, std::vector<Dim> dims);
  // Marks `value` as a graph output named `name` (an Identity is added when the names differ).
  void output(const std::string& value, const std::string& name, DType dtype, std::vector<Dim> dims);
  std::string initializer(const std::string& name, Tensor t);
  std::string const_i64(std::vector<int64_t> v, bool scalar = false);
  std::string const_f32(float v);

  std::string op(const std::string& op_type, std::vector<std::string> inputs,
                 std::map<std::string, Attribute> attrs = {}, const std::string& domain = "");
  std::vector<std::string> op_n(const std::string& op_type, std::vector<std::string> inputs, int n_outputs,
                                std::map<std::string, Attribute> attrs = {}, const std::string& domain = "");

  // Axes as the opset wants them (see above).
  std::string unsqueeze(const std::string& x, std::vector<int64_t> axes);
  std::string squeeze(const std::string& x, std::vector<int64_t> axes);
  std::string reduce_mean(const std::string& x, std::vector<int64_t> axes, bool keepdims = true);

  // x @ W^T + b with W in PyTorch's [out, in] layout (stored transposed as [in, out]). A prefix
  // used before (shared layers) reuses its initializers.
  std::string linear(const std::string& x, const Tensor& weight, const Tensor* bias, const std::string& prefix);
  // x @ table^T for a [rows, cols] table that is already an initializer of this graph (a tied
  // lm_head reading the token embeddings): MatMul(x, Transpose(table)), so the table is stored once.
  std::string linear_tied(const std::string& x, const std::string& table);
  std::string layer_norm(const std::string& x, const Tensor& gamma, const Tensor& beta, float eps,
                         const std::string& prefix);
  // Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
  std::string gelu(const std::string& x);
  // The tanh approximation (transformers' gelu_new / gelu_pytorch_tanh):
  // 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
  std::string gelu_tanh(const std::string& x);

  bool has_initializer(const std::string& name) const { return model_.graph.initializers.count(name) > 0; }

  // Sorts the nodes and drops initializers nothing reads.
  Model finish();
  int64_t opset() const { return opset_; }

 private:
  std::string fresh(const std::string& hint);
  void adapt_axes(Node& n);
  std::string decomposed_layer_norm(const std::vector<std::string>& inputs, float eps);

  Model model_;
  int64_t opset_;
  int counter_ = 0;
};

}  // namespace kiln::exporting
