// upgrade_opset against ONNX's own node tests: each test's node is taken at its own opset, or
// rewritten into the older attribute form that the test data lacks (the values of its extra inputs
// become attributes), upgraded, and run in kiln against ONNX's expected outputs. Models at opsets
// libonnx knows (up to 17) also go through libonnx's checker.
#include <gtest/gtest.h>
#include <onnx/defs/schema.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "eval/conformance.h"
#include "export/graph_builder.h"
#include "graph/onnx_io.h"
#include "passes/opset_history.h"
#include "passes/opset_upgrade.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;
using namespace kiln::exporting;
namespace fs = std::filesystem;

namespace {

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

// One ONNX node test: its model and the files of test_data_set_0.
struct Case {
  std::string name;
  Model model;
  std::vector<fs::path> inputs, outputs;

  Node& node() { return model.graph.nodes.at(0); }

  // The data of the node's input at `position` (a graph input fed by the test).
  Tensor data(size_t position) {
    const std::string& v = node().inputs.at(position);
    for (size_t i = 0; i < model.graph.inputs.size(); ++i)
      if (model.graph.inputs[i].name == v) return load_tensor_pb(inputs.at(i).string());
    throw std::runtime_error(name + ": no graph input " + v);
  }

  // Drops the node's inputs from `first` on, and their graph inputs and data files.
  void drop_inputs_from(size_t first) {
    Node& n = node();
    for (size_t p = first; p < n.inputs.size(); ++p) {
      auto& gi = model.graph.inputs;
      for (size_t i = 0; i < gi.size(); ++i)
        if (gi[i].name == n.inputs[p]) {
          gi.erase(gi.begin() + (long)i);
          inputs.erase(inputs.begin() + (long)i);
          break;
        }
    }
    n.inputs.resize(first);
  }
};

std::vector<fs::path> files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (int i = 0; fs::exists(dir / (prefix + std::to_string(i) + ".pb")); ++i)
    out.push_back(dir / (prefix + std::to_string(i) + ".pb"));
  return out;
}

Case load_case(const std::string& name) {
  Case c;
  c.name = name;
  fs::path dir = kNodeTests / name;
  c.model = load_model((dir / "model.onnx").string());
  c.inputs = files(dir / "test_data_set_0", "input_");
  c.outputs = files(dir / "test_data_set_0", "output_");
  return c;
}

std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.item_i64(i));
  return v;
}

// Upgrades a copy of c to `target` and runs it in kiln on ONNX's test data.
void expect_upgrade_passes(const Case& c, int64_t target, int64_t from) {
  SCOPED_TRACE(c.name + " from opset " + std::to_string(from) + " to " + std::to_string(target));
  Model m = c.model;
  m.set_opset("", from);
  OpsetUpgrade up = upgrade_opset(m, target);
  EXPECT_EQ(up.from, from);
  EXPECT_EQ(m.opset(""), target);
  test::ScratchDir s("kiln-opset");
  fs::path set = s.path / "test_data_set_0";
  fs::create_directories(set);
  save_model(m, (s.path / "model.onnx").string());
  for (size_t i = 0; i < c.inputs.size(); ++i) fs::copy_file(c.inputs[i], set / ("input_" + std::to_string(i) + ".pb"));
  for (size_t i = 0; i < c.outputs.size(); ++i)
    fs::copy_file(c.outputs[i], set / ("output_" + std::to_string(i) + ".pb"));
  if (target <= 17) EXPECT_NO_THROW(test::onnx_check((s.path / "model.onnx").string()));
  eval::ConformanceResult r = eval::run_conformance_test(s.path.string());
  EXPECT_EQ(r.status, eval::ConformanceResult::Status::Pass) << r.reason;
}

void expect_upgrades_pass(const Case& c, int64_t from, std::vector<int64_t> targets) {
  ASSERT_TRUE(fs::exists(kNodeTests / c.name)) << c.name;
  for (int64_t t : targets) expect_upgrade_passes(c, t, from);
}

int count(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& x : g.nodes) n += x.op_type == op;
  return n;
}

}  // namespace

// The history table agrees with libonnx's schema registry for every opset libonnx knows.
TEST(OpsetHistory, MatchesOnnxSchemasUpTo17) {
  std::map<std::string, std::vector<int>> onnx_history;
  for (const auto& s : onnx::OpSchemaRegistry::get_all_schemas_with_history())
    if (s.domain().empty() || s.domain() == "ai.onnx") onnx_history[s.Name()].push_back(s.SinceVersion());
  for (auto& [op, versions] : onnx_history) {
    std::sort(versions.begin(), versions.end());
    const std::vector<int>* ours = opset_history(op);
    ASSERT_NE(ours, nullptr) << op;
    std::vector<int> upto17;
    for (int v : *ours)
      if (v <= 17) upto17.push_back(v);
    EXPECT_EQ(upto17, versions) << op;
  }
}

TEST(OpsetUpgrade, ClipAttributesBecomeInputs) {
  for (const char* name : {"test_clip", "test_clip_default_min", "test_clip_default_max", "test_clip_example",
                           "test_clip_inbounds", "test_clip_outbounds", "test_clip_splitbounds"}) {
    Case c = load_case(name);
    Node& n = c.node();
    for (size_t p = 1; p < n.inputs.size(); ++p)
      if (!n.inputs[p].empty()) n.attributes[p == 1 ? "min" : "max"] = attr_float((float)c.data(p).item_f64(0));
    c.drop_inputs_from(1);
    expect_upgrades_pass(c, 9, {11, 13, 18});
  }
}

TEST(OpsetUpgrade, SliceAttributesBecomeInputs) {
  for (const char* name : {"test_slice", "test_slice_default_axes", "test_slice_neg", "test_slice_end_out_of_bounds",
                           "test_slice_start_out_of_bounds", "test_slice_negative_axes"}) {
    Case c = load_case(name);
    Node& n = c.node();
    if (n.inputs.size() > 4) {
      for (int64_t s : ints_of(c.data(4))) ASSERT_EQ(s, 1) << name << ": Slice-1 has no steps";
    }
    n.attributes["starts"] = attr_ints(ints_of(c.data(1)));
    n.attributes["ends"] = attr_ints(ints_of(c.data(2)));
    if (n.inputs.size() > 3) n.attributes["axes"] = attr_ints(ints_of(c.data(3)));
    c.drop_inputs_from(1);
    expect_upgrades_pass(c, 9, {10, 11, 13, 18});
  }
}

TEST(OpsetUpgrade, PadAttributesBecomeInputs) {
  for (const char* name : {"test_constant_pad", "test_edge_pad", "test_reflect_pad"}) {
    Case c = load_case(name);
    Node& n = c.node();
    n.attributes["pads"] = attr_ints(ints_of(c.data(1)));
    if (n.inputs.size() > 2) n.attributes["value"] = attr_float((float)c.data(2).item_f64(0));
    c.drop_inputs_from(1);
    expect_upgrades_pass(c, 9, {11, 13, 18});
    // Pad-1 named the attribute paddings.
    n.attributes["paddings"] = n.attributes["pads"];
    n.attributes.erase("pads");
    expect_upgrades_pass(c, 1, {11});
  }
}

// Upsample-9 (scales input) becomes Resize-10, then Resize-11+ with asymmetric coordinates and
// floor rounding, which is what Upsample computes.
TEST(OpsetUpgrade, UpsampleBecomesResize) {
  Case c = load_case("test_upsample_nearest");
  ASSERT_EQ(c.model.opset(""), 9);
  expect_upgrades_pass(c, 9, {10, 11, 13, 18});
  Model m = c.model;
  upgrade_opset(m, 11);
  ASSERT_EQ(count(m.graph, "Resize"), 1);
  EXPECT_EQ(m.graph.nodes[0].inputs.size(), 3u);
  EXPECT_EQ(m.graph.nodes[0].attr_string("coordinate_transformation_mode", ""), "asymmetric");
  EXPECT_EQ(m.graph.nodes[0].attr_string("nearest_mode", ""), "floor");
  // Upsample-7: scales as an attribute.
  Case a = load_case("test_upsample_nearest");
  Tensor scales = a.data(1);
  std::vector<float> s;
  for (int64_t i = 0; i < scales.numel(); ++i) s.push_back((float)scales.item_f64(i));
  Attribute sa;
  sa.kind = Attribute::Kind::Floats;
  sa.floats = s;
  a.node().attributes["scales"] = sa;
  a.drop_inputs_from(1);
  expect_upgrades_pass(a, 8, {9, 10, 11, 13});
  // Resize-10: the same node under its new name.
  Case r = load_case("test_upsample_nearest");
  r.node().op_type = "Resize";
  expect_upgrades_pass(r, 10, {11, 13, 18});
}

TEST(OpsetUpgrade, SplitSizesBecomeAnInput) {
  for (const char* name : {"test_split_variable_parts_1d", "test_split_variable_parts_2d",
                           "test_split_variable_parts_default_axis"}) {
    Case c = load_case(name);
    c.node().attributes["split"] = attr_ints(ints_of(c.data(1)));
    c.drop_inputs_from(1);
    expect_upgrades_pass(c, 11, {13, 18});
  }
  for (const char* name : {"test_split_equal_parts_1d", "test_split_equal_parts_2d",
                           "test_split_equal_parts_default_axis"}) {
    Case c = load_case(name);
    expect_upgrades_pass(c, 11, {13, 18});
    Model m = c.model;
    upgrade_opset(m, 18);
    EXPECT_EQ(m.graph.nodes[0].attr_int("num_outputs", 0), (int64_t)m.graph.nodes[0].outputs.size());
  }
}

TEST(OpsetUpgrade, SqueezeUnsqueezeAxesBecomeAnInput) {
  for (const char* name : {"test_squeeze", "test_squeeze_negative_axes", "test_unsqueeze_axis_0",
                           "test_unsqueeze_axis_3", "test_unsqueeze_negative_axes", "test_unsqueeze_three_axes",
                           "test_unsqueeze_two_axes", "test_unsqueeze_unsorted_axes"}) {
    Case c = load_case(name);
    if (c.node().inputs.size() > 1) {  // test_unsqueeze_axis_3 is still an opset-11 test, with the attribute
      c.node().attributes["axes"] = attr_ints(ints_of(c.data(1)));
      c.drop_inputs_from(1);
    }
    expect_upgrades_pass(c, 11, {13, 18});
  }
}

TEST(OpsetUpgrade, ReduceSumAxesBecomeAnInputAt13) {
  for (const char* name : {"test_reduce_sum_keepdims_example", "test_reduce_sum_do_not_keepdims_example",
                           "test_reduce_sum_negative_axes_keepdims_example",
                           "test_reduce_sum_default_axes_keepdims_example"}) {
    Case c = load_case(name);
    Node& n = c.node();
    if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
      std::vector<int64_t> axes = ints_of(c.data(1));
      if (!axes.empty()) n.attributes["axes"] = attr_ints(axes);
    }
    c.drop_inputs_from(1);
    expect_upgrades_pass(c, 11, {13, 18});
  }
}

// ONNX's own tests of these ops are at opset 13 (attribute form); opset 18 reads axes as an input.
TEST(OpsetUpgrade, ReduceAxesBecomeAnInputAt18) {
  for (const char* op : {"l1", "l2", "log_sum_exp", "max", "mean", "min", "prod", "sum_square"})
    for (const char* kind : {"keepdims_example", "keep_dims_example", "do_not_keepdims_example",
                             "negative_axes_keepdims_example", "negative_axes_keep_dims_example",
                             "default_axes_keepdims_example"}) {
      std::string name = std::string("test_reduce_") + op + "_" + kind;
      if (!fs::exists(kNodeTests / name)) continue;  // the suite names some keep_dims, some keepdims
      Case c = load_case(name);
      expect_upgrades_pass(c, 13, {18});
    }
  expect_upgrades_pass(load_case("test_reduce_log_sum_asc_axes"), 13, {18});
}

TEST(OpsetUpgrade, DropoutRatioAndIsTest) {
  for (const char* name : {"test_dropout_default_old", "test_dropout_random_old"}) {
    Case c = load_case(name);
    expect_upgrades_pass(c, 11, {12, 13, 18});
    c.node().attributes["is_test"] = attr_int(1);
    expect_upgrades_pass(c, 6, {7, 11, 13});
  }
}

TEST(OpsetUpgrade, BatchNormalizationOldAttributesGo) {
  for (const char* name : {"test_batchnorm_example", "test_batchnorm_epsilon"}) {
    Case c = load_case(name);
    Node& n = c.node();
    n.attributes["is_test"] = attr_int(1);
    n.attributes["spatial"] = attr_int(1);
    n.attributes["consumed_inputs"] = attr_ints({0, 0, 0, 1, 1});
    expect_upgrades_pass(c, 5, {9, 11, 13, 15, 18});
  }
}

TEST(OpsetUpgrade, TopKBecomesAnInput) {
  Case c = load_case("test_top_k");
  c.node().attributes["k"] = attr_int(c.data(1).item_i64(0));
  c.drop_inputs_from(1);
  expect_upgrades_pass(c, 9, {10, 11, 13, 18});
}

// Softmax before 13 normalises the input flattened to 2-D at axis; at the last axis that is
// ONNX's test_softmax_axis_2; at axis 1 the reference is computed here over the flattened rows.
TEST(OpsetUpgrade, SoftmaxKeepsItsFlattenedMeaning) {
  Case last = load_case("test_softmax_axis_2");
  expect_upgrades_pass(last, 11, {13, 18});

  Case c = load_case("test_softmax_axis_1");
  Tensor x = load_tensor_pb(c.inputs[0].string());
  ASSERT_EQ(x.shape(), (Shape{3, 4, 5}));
  std::vector<float> want((size_t)x.numel());
  for (int64_t r = 0; r < 3; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < 20; ++i) mx = std::max(mx, x.item_f64(r * 20 + i));
    for (int64_t i = 0; i < 20; ++i) sum += std::exp(x.item_f64(r * 20 + i) - mx);
    for (int64_t i = 0; i < 20; ++i) want[(size_t)(r * 20 + i)] = (float)(std::exp(x.item_f64(r * 20 + i) - mx) / sum);
  }
  for (int64_t target : {13, 18}) {
    SCOPED_TRACE(target);
    Model m = c.model;
    m.set_opset("", 11);
    m.graph.nodes[0].attributes.erase("axis");  // the default, 1
    upgrade_opset(m, target);
    EXPECT_EQ(count(m.graph, "Flatten"), 1);
    EXPECT_EQ(count(m.graph, "Reshape"), 1);
    test::ScratchDir s("kiln-opset");
    std::string path = (s.path / "model.onnx").string();
    save_model(m, path);
    if (target <= 17) EXPECT_NO_THROW(test::onnx_check(path));
    Session session(load_model(path));
    Tensor got = session.run({{"x", x}}).at("y");
    ASSERT_EQ(got.shape(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(got.item_f64(i), want[(size_t)i], 1e-6) << i;
  }
}

// A change without a conversion is refused before anything changes: the message names the node's
// op and both opsets, and the model (a convertible Clip included) is left as it was.
TEST(OpsetUpgrade, RefusesWhatItCannotConvertBeforeChangingAnything) {
  GraphBuilder b("old", 5);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{3, ""}});
  std::string clipped = b.op("Clip", {x}, {{"min", attr_float(0)}, {"max", attr_float(1)}});
  std::string tiles = b.const_i64({2});
  std::string axis = b.const_i64({1});
  std::string y = b.op("Tile", {clipped, tiles, axis});
  b.output(y, "y", DType::F32, {Dim{2, ""}, Dim{6, ""}});
  Model m = b.finish();
  std::string before = model_to_bytes(m);
  try {
    upgrade_opset(m, 11);
    FAIL() << "Tile-1 was upgraded";
  } catch (const Unsupported& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("Tile"), std::string::npos) << msg;
    EXPECT_NE(msg.find("opset 5 to 11"), std::string::npos) << msg;
  }
  EXPECT_EQ(model_to_bytes(m), before);

  GraphBuilder u("unknown", 9);
  std::string ux = u.input("x", DType::F32, {Dim{2, ""}});
  u.output(u.op("NoSuchOp", {ux}), "y", DType::F32, {Dim{2, ""}});
  Model um = u.finish();
  EXPECT_THROW(upgrade_opset(um, 11), Unsupported);
  EXPECT_EQ(um.opset(""), 9);
  EXPECT_THROW(upgrade_opset(um, kNewestKnownOpset + 1), Unsupported);
}

// Ops whose schema changed in a way that means the same pass unchanged; the import and IR version go up.
TEST(OpsetUpgrade, CompatibleChangesPassUnchanged) {
  GraphBuilder b("plain", 9);
  std::string x = b.input("x", DType::F32, {Dim{2, ""}, Dim{3, ""}});
  std::string w = b.initializer("w", Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  std::string h = b.op("Relu", {b.op("MatMul", {x, w})});
  b.output(b.op("Transpose", {h}), "y", DType::F32, {Dim{2, ""}, Dim{2, ""}});
  Model m = b.finish();
  m.ir_version = 4;
  std::vector<Node> nodes = m.graph.nodes;
  OpsetUpgrade up = upgrade_opset(m, 13);
  EXPECT_EQ(up.nodes_rewritten, 0);
  ASSERT_EQ(m.graph.nodes.size(), nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(m.graph.nodes[i].op_type, nodes[i].op_type);
    EXPECT_EQ(m.graph.nodes[i].inputs, nodes[i].inputs);
    EXPECT_EQ(m.graph.nodes[i].attributes.size(), nodes[i].attributes.size());
  }
  EXPECT_EQ(m.opset(""), 13);
  EXPECT_EQ(m.ir_version, 7);
  EXPECT_EQ(opset_step("MatMul", 13), OpsetStep::Compatible);
  EXPECT_EQ(opset_step("Clip", 11), OpsetStep::Rewrite);
  EXPECT_EQ(opset_step("Tile", 6), OpsetStep::Refused);
  EXPECT_EQ(opset_step("Clip", 10), OpsetStep::NotAChange);
}

namespace {

// x [1, 2, 3, 4] -> Upsample (opset 9, scales an initializer) or Resize (opset 10) -> y.
Model resample_model(const std::string& op, int64_t opset, const std::string& mode, std::vector<float> scales) {
  GraphBuilder b("resample", opset);
  std::string x = b.input("x", DType::F32, {Dim{1, ""}, Dim{2, ""}, Dim{3, ""}, Dim{4, ""}});
  std::string s = b.initializer("scales", Tensor::from_vector<float>({4}, scales));
  b.output(b.op(op, {x, s}, {{"mode", attr_string(mode)}}), "y", DType::F32, {});
  Model m = b.finish();
  m.graph.outputs[0].shape.reset();
  return m;
}

}  // namespace

// Non-integer scales, growing and shrinking, where Resize-11's default coordinate mapping would
// differ: ONNX Runtime on
// the original Upsample-9 / Resize-10 node is the reference for kiln and ONNX Runtime on the
// upgraded file.
TEST(OpsetUpgrade, ResampleMeaningMatchesOnnxRuntime) {
  KILN_REQUIRE(!test::ort_peer().empty(), "ONNX Runtime peer (make peers)");
  Tensor x(DType::F32, {1, 2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (float)((i * 7) % 11) - 3.0f;
  struct Case {
    const char* op;
    int64_t opset;
    const char* mode;
    std::vector<float> scales;
  };
  for (const Case& c : {Case{"Upsample", 9, "nearest", {1, 1, 1.5f, 2.5f}}, Case{"Upsample", 9, "linear", {1, 1, 1.5f, 2.5f}},
                        Case{"Upsample", 9, "nearest", {1, 1, 2, 3}}, Case{"Resize", 10, "nearest", {1, 1, 1.7f, 2.2f}},
                        Case{"Resize", 10, "linear", {1, 1, 1.7f, 2.2f}}, Case{"Resize", 10, "nearest", {1, 1, 0.6f, 0.7f}}, Case{"Resize", 10, "linear", {1, 1, 0.6f, 0.7f}}}) {
    for (int64_t target : {11, 13, 18}) {
      SCOPED_TRACE(fmt::format("{}-{} {} to {}", c.op, c.opset, c.mode, target));
      test::ScratchDir s("kiln-opset-ort");
      std::string orig = (s.path / "orig.onnx").string(), up = (s.path / "up.onnx").string();
      Model m = resample_model(c.op, c.opset, c.mode, c.scales);
      save_model(m, orig);
      upgrade_opset(m, target);
      save_model(m, up);
      NamedTensors want = test::run_ort(orig, {{"x", x}}, s.path.string());
      NamedTensors ort = test::run_ort(up, {{"x", x}}, s.path.string());
      NamedTensors got = Session(load_model(up)).run({{"x", x}});
      EXPECT_LE(test::relative_error(ort.at("y"), want.at("y")), 1e-6) << "ONNX Runtime, upgraded";
      EXPECT_LE(test::relative_error(got.at("y"), want.at("y")), 1e-6) << "kiln, upgraded";
    }
  }
  // Shrinking one axis and growing another rounds both ways in ONNX Runtime: no opset-11 form.
  Model mixed = resample_model("Resize", 10, "nearest", {1, 1, 0.6f, 2.0f});
  EXPECT_THROW(upgrade_opset(mixed, 11), Unsupported);
}

// Nodes inside subgraphs are upgraded too, and their new initializers stay in their subgraph.
TEST(OpsetUpgrade, SubgraphNodesAreUpgraded) {
  auto branch = [](float lo, float hi) {
    auto g = std::make_shared<Graph>();
    g->name = "branch";
    Node clip;
    clip.op_type = "Clip";
    clip.name = "clip_" + std::to_string((int)hi);
    clip.inputs = {"x"};
    clip.outputs = {"y_" + std::to_string((int)hi)};
    clip.attributes["min"] = attr_float(lo);
    clip.attributes["max"] = attr_float(hi);
    g->nodes.push_back(clip);
    g->outputs.push_back(ValueInfo{clip.outputs[0], DType::F32, std::nullopt, "", false});
    return g;
  };
  GraphBuilder b("if", 9);
  std::string x = b.input("x", DType::F32, {Dim{4, ""}});
  std::string cond = b.input("cond", DType::Bool, {});
  Attribute then_g, else_g;
  then_g.kind = else_g.kind = Attribute::Kind::Graph;
  then_g.g = branch(0, 1);
  else_g.g = branch(-2, 2);
  b.output(b.op("If", {cond}, {{"then_branch", then_g}, {"else_branch", else_g}}), "y", DType::F32, {Dim{4, ""}});
  Model m = b.finish();
  OpsetUpgrade up = upgrade_opset(m, 11);
  EXPECT_EQ(up.nodes_rewritten, 2);
  auto if_node = std::find_if(m.graph.nodes.begin(), m.graph.nodes.end(), [](const Node& n) { return n.op_type == "If"; });
  ASSERT_NE(if_node, m.graph.nodes.end());
  const Graph& then_branch = *if_node->attr("then_branch")->g;
  EXPECT_EQ(then_branch.nodes[0].inputs.size(), 3u);
  EXPECT_EQ(then_branch.initializers.size(), 2u);
  test::ScratchDir s("kiln-opset-if");
  std::string path = (s.path / "model.onnx").string();
  save_model(m, path);
  EXPECT_NO_THROW(test::onnx_check(path));
  Tensor xs = Tensor::from_vector<float>({4}, {-3.0f, -0.5f, 0.5f, 3.0f});
  Session session(load_model(path));
  Tensor yt = session.run({{"x", xs}, {"cond", Tensor::scalar<bool>(true)}}).at("y");
  Tensor ye = session.run({{"x", xs}, {"cond", Tensor::scalar<bool>(false)}}).at("y");
  EXPECT_EQ(std::vector<float>(yt.data<float>(), yt.data<float>() + 4), (std::vector<float>{0, 0, 0.5f, 1}));
  EXPECT_EQ(std::vector<float>(ye.data<float>(), ye.data<float>() + 4), (std::vector<float>{-2, -0.5f, 0.5f, 2}));
}

// Clip's new scalar inputs need the input's element type; a graph that does not tell it is refused.
TEST(OpsetUpgrade, ClipOfUnknownTypeIsRefused) {
  Model m;
  m.opsets = {{"", 9}};
  m.graph.inputs.push_back(ValueInfo{"x", DType::Undefined, std::nullopt, "", false});
  Node clip;
  clip.op_type = "Clip";
  clip.inputs = {"x"};
  clip.outputs = {"y"};
  clip.attributes["max"] = attr_float(1);
  m.graph.nodes.push_back(clip);
  m.graph.outputs.push_back(ValueInfo{"y", DType::Undefined, std::nullopt, "", false});
  try {
    upgrade_opset(m, 11);
    FAIL() << "upgraded without knowing the type";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("element type of 'x'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(m.opset(""), 9);
  EXPECT_TRUE(m.graph.nodes[0].has_attr("max"));
}

// Without an ai.onnx import there is nothing to convert when no node is ai.onnx; otherwise the
// model is broken and said so.
TEST(OpsetUpgrade, MissingDefaultImport) {
  Model m;
  m.opsets = {{"com.microsoft", 1}};
  Node n;
  n.op_type = "Gelu";
  n.domain = "com.microsoft";
  n.inputs = {"x"};
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  EXPECT_EQ(upgrade_opset(m, 11).to, 11);
  EXPECT_EQ(m.opset(""), 11);
  Model bad;
  n.domain = "";
  n.op_type = "Relu";
  bad.graph.nodes.push_back(n);
  EXPECT_THROW(upgrade_opset(bad, 11), BadModel);
}
