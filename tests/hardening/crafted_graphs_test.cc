// Well-formed ONNX files whose graphs are wrong (crafted_graphs.h), through the library: each is
// refused when it loads, with one line naming the graph, the node or value at fault and what to do.
#include <gtest/gtest.h>

#include "core/error.h"
#include "crafted_graphs.h"
#include "graph/onnx_io.h"
#include "runtime/session.h"

using namespace kiln;
namespace crafted = kiln::test::crafted;

namespace {

struct Refusal {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;
};

Refusal load_refusal(const onnx::ModelProto& mp) {
  std::string bytes = mp.SerializeAsString();
  try {
    Model m = load_model_from_bytes(bytes.data(), bytes.size());
    Session s(std::move(m));
    s.run({{"x", Tensor::from_vector<float>({1}, {1.f})}});
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::Internal, "(loaded and ran)"};
}

struct Case {
  const char* name;
  onnx::ModelProto (*make)();
  std::string message;
};

TEST(CraftedGraphs, EachIsRefusedWithItsReason) {
  const Case cases[] = {
      {"cycle", crafted::cycle,
       "graph 'crafted' has a cycle: Add 'first' (ai.onnx), Relu 'second' (ai.onnx), Relu 'third' (ai.onnx) wait on "
       "each other's outputs, so none can run; the model file is corrupt, re-export it"},
      {"missing value", crafted::reads_missing_value,
       "graph 'crafted': Add 'add' (ai.onnx) reads 'ghost', which no node, input or initializer provides; the model "
       "file is corrupt, re-export it"},
      {"output never produced", crafted::output_never_produced,
       "graph 'crafted': output 'nowhere' is not produced by any node, input or initializer; the model file is "
       "corrupt, re-export it"},
      {"duplicate input", crafted::duplicate_input,
       "graph 'crafted': two inputs are named 'x'; every value needs a name of its own, so the model file is "
       "corrupt, re-export it"},
      {"duplicate initializer", crafted::duplicate_initializer,
       "graph 'crafted': two initializers are named 'w'; every value needs a name of its own, so the model file is "
       "corrupt, re-export it"},
      {"duplicate node output", crafted::duplicate_node_output,
       "graph 'crafted': Relu 'one' (ai.onnx) and Neg 'two' (ai.onnx) both write 't'; every value needs a name of "
       "its own, so the model file is corrupt, re-export it"},
      {"output overwrites initializer", [] { return crafted::node_output_overwrites(false); },
       "graph 'crafted': Neg 'overwrite' (ai.onnx) writes 'w', which is already an initializer; every value needs a "
       "name of its own, so the model file is corrupt, re-export it"},
      {"output overwrites input", [] { return crafted::node_output_overwrites(true); },
       "graph 'crafted': Neg 'overwrite' (ai.onnx) writes 'x', which is already a graph input; every value needs a "
       "name of its own, so the model file is corrupt, re-export it"},
      {"subgraph reads missing value", crafted::subgraph_reads_missing_value,
       "graph 'then_branch': Add 'then_branch_add' (ai.onnx) reads 'ghost', which no node, input or initializer "
       "provides; the model file is corrupt, re-export it"},
  };
  for (const auto& c : cases) {
    Refusal r = load_refusal(c.make());
    EXPECT_EQ(r.kind, ErrorKind::BadModel) << c.name << ": " << r.message;
    EXPECT_EQ(r.message, c.message) << c.name;
  }
}

TEST(CraftedGraphs, DuplicateNodeNamesStillRun) {
  // ONNX asks for unique node names but tools do not check; kiln only uses them in messages.
  Refusal r = load_refusal(crafted::duplicate_node_name());
  EXPECT_EQ(r.message, "(loaded and ran)");
}

}  // namespace
