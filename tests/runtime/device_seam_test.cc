// The device seam without a GPU: sessions on the test binary's own device (fake_device.h: a
// separate heap, copies that check both ends, Add/Relu/MatMul/Reshape/Shape kernels) place each node
// there when it has a kernel and on the CPU otherwise, copy exactly where values cross, give outputs
// bitwise equal to the CPU's (and within float rounding of ONNX Runtime's and PyTorch's), and every
// tensor a device kernel sees is memory from the device's allocator.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "core/tensor_json.h"
#include "fake_device.h"
#include "graph/onnx_io.h"
#include "runtime/plan.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace kiln;

namespace {

// kiln.test:HostCheck(x) -> copy of x, on the CPU only: fails unless x is in CPU memory (so no CPU
// kernel, in a subgraph or not, is given the device's memory).
void host_check(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(fake_device::in_cpu_memory(x), InternalError, "HostCheck got {} memory", device_name(x.device()));
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
  std::memcpy(y.raw(), x.raw(), x.nbytes());
}
KILN_REGISTER_KERNELS(register_host_check) { r.add_fn("kiln.test", "HostCheck", 1, kMaxOpset, host_check); }

// kiln.test:LeavesCpuOutput on the device only: a broken device kernel that returns CPU memory.
KILN_REGISTER_KERNELS(register_broken_device_kernel) {
  r.add({DeviceType::Test, "kiln.test", "LeavesCpuOutput", 1, kMaxOpset}, [](const KernelInfo&) {
    return std::make_unique<FunctionKernel>([](KernelContext& ctx) { ctx.set_output(0, ctx.input(0).clone()); });
  });
}

ValueInfo f32(const std::string& name, std::vector<int64_t> dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = DType::F32;
  std::vector<Dim> d;
  for (int64_t x : dims) d.push_back(Dim{x, ""});
  v.shape = d;
  return v;
}

Node node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
          const std::string& domain = "") {
  Node n;
  n.name = outs.empty() ? op : outs[0];
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(ins);
  n.outputs = std::move(outs);
  return n;
}

// x[2,3] -> MatMul w -> Add b -> Relu = r -> Softmax = s; Add(s, r) = t; Shape(r) = shp;
// Reshape(t, shp) = y; outputs y, s, shp (and, with host_check, HostCheck(r) = r_host).
Model mixed_model(bool with_host_check) {
  Model m;
  m.opsets = {{"", 17}, {"kiln.test", 1}};
  Graph& g = m.graph;
  g.name = "mixed";
  g.inputs = {f32("x", {2, 3})};
  g.initializers["w"] =
      Tensor::from_vector<float>({3, 4}, {0.5f, -1.f, 2.f, 0.25f, -0.75f, 1.5f, -0.5f, 1.f, 1.f, 0.125f, -2.f, 0.5f});
  g.initializers["b"] = Tensor::from_vector<float>({4}, {0.1f, -0.2f, 0.3f, -0.4f});
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"m"}));
  g.nodes.push_back(node("Add", {"m", "b"}, {"a"}));
  g.nodes.push_back(node("Relu", {"a"}, {"r"}));
  g.nodes.push_back(node("Softmax", {"r"}, {"s"}));
  g.nodes.push_back(node("Add", {"s", "r"}, {"t"}));
  g.nodes.push_back(node("Shape", {"r"}, {"shp"}));
  g.nodes.push_back(node("Reshape", {"t", "shp"}, {"y"}));
  g.outputs = {f32("y", {2, 4}), f32("s", {2, 4})};
  ValueInfo shp;
  shp.name = "shp";
  shp.dtype = DType::I64;
  shp.shape = std::vector<Dim>{Dim{2, ""}};
  g.outputs.push_back(shp);
  if (with_host_check) {
    g.nodes.push_back(node("HostCheck", {"r"}, {"r_host"}, "kiln.test"));
    g.outputs.push_back(f32("r_host", {2, 4}));
  }
  return m;
}

NamedTensors mixed_feeds() { return {{"x", Tensor::from_vector<float>({2, 3}, {1.f, -2.f, 0.5f, 3.f, 0.25f, -1.f})}}; }

SessionOptions on(Device d, int level = 2) {
  SessionOptions o;
  o.device = d;
  o.optimization_level = level;
  return o;
}

void expect_bitwise_equal(const NamedTensors& got, const NamedTensors& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& g = got.at(name);
    EXPECT_TRUE(g.device().is_cpu()) << name << " is returned in " << device_name(g.device()) << " memory";
    ASSERT_EQ(g.dtype(), w.dtype()) << name;
    ASSERT_EQ(g.shape(), w.shape()) << name;
    EXPECT_EQ(std::memcmp(g.raw(), w.raw(), w.nbytes()), 0) << name << " differs from the CPU run";
  }
}

void expect_no_violations() {
  std::lock_guard<std::mutex> lock(fake_device::log().mu);
  for (const auto& v : fake_device::log().violations) ADD_FAILURE() << v;
}

std::string step_text(const PlanStepInfo& s) {
  std::string t = s.op + "@" + device_name(s.device) + "(";
  for (size_t i = 0; i < s.inputs.size(); ++i) t += (i ? "," : "") + s.inputs[i];
  t += ")->";
  for (size_t i = 0; i < s.outputs.size(); ++i) t += (i ? "," : "") + s.outputs[i];
  return t;
}

TEST(DeviceSeam, MixedGraphPlacesNodesAndCopiesExactlyWhereValuesCross) {
  Session s(mixed_model(true), on(fake_device::kDevice, 0));
  PlanInfo plan = describe_plan(s);
  std::vector<std::string> steps;
  for (const auto& st : plan.steps) steps.push_back(step_text(st));
  const std::vector<std::string> want = {
      "kiln:Copy@test:0(x)->x@test:0",
      "MatMul@test:0(x@test:0,w@test:0)->m",
      "Add@test:0(m,b@test:0)->a",
      "Relu@test:0(a)->r",
      "kiln:Copy@cpu(r)->r@cpu",
      "Softmax@cpu(r@cpu)->s",
      "kiln:Copy@test:0(s)->s@test:0",
      "Add@test:0(s@test:0,r)->t",
      "Shape@test:0(r)->shp",                    // made in CPU memory: no copy for Reshape's shape
      "Reshape@test:0(t,shp)->y",                // its shape input is read on the CPU
      "kiln.test:HostCheck@cpu(r@cpu)->r_host",  // the CPU copy of r made for Softmax, reused
      "kiln:Copy@cpu(y)->y@cpu",                 // outputs leave in CPU memory
  };
  EXPECT_EQ(steps, want);
  EXPECT_EQ(plan.copies(), 4u);
  EXPECT_EQ(plan.constants_on_device, (std::vector<std::string>{"w", "b"}));
  EXPECT_EQ(plan.device, fake_device::kDevice);
}

TEST(DeviceSeam, MixedGraphGivesTheCpuOutputsBitForBit) {
  fake_device::log().clear();
  const size_t allocations = fake_device::heap().allocations();
  NamedTensors cpu = Session(mixed_model(true), on(Device{}, 0)).run(mixed_feeds());
  {
    Session s(mixed_model(true), on(fake_device::kDevice, 0));
    for (int run = 0; run < 2; ++run) expect_bitwise_equal(s.run(mixed_feeds()), cpu);
  }
  expect_no_violations();
  std::lock_guard<std::mutex> lock(fake_device::log().mu);
  const auto& runs = fake_device::log().runs;
  EXPECT_EQ(runs.at("MatMul"), 2);
  EXPECT_EQ(runs.at("Add"), 4);
  EXPECT_EQ(runs.at("Relu"), 2);
  EXPECT_EQ(runs.at("Shape"), 2);
  EXPECT_EQ(runs.at("Reshape"), 2);
  EXPECT_EQ(runs.count("Softmax"), 0u);
  // Per run: x and s in, r and y out; plus w and b once, when planned.
  EXPECT_EQ(fake_device::log().copies_in, 2 * 2 + 2);
  EXPECT_EQ(fake_device::log().copies_out, 2 * 2);
  EXPECT_GT(fake_device::heap().allocations(), allocations);
}

TEST(DeviceSeam, MixedGraphMatchesOnnxRuntime) {
  if (!test::have_ort()) return;
  test::ScratchDir dir("device_seam_ort");
  const std::string path = (dir.path / "mixed.onnx").string();
  Model m = mixed_model(false);
  m.opsets = {{"", 17}};
  save_model(m, path);
  for (const auto& [name, err] : test::kiln_vs_ort(path, mixed_feeds(), dir.path.string(), on(fake_device::kDevice, 0)))
    EXPECT_LT(err, 1e-6) << name;
  expect_no_violations();
}

TEST(DeviceSeam, EveryDeviceBlockIsGivenBackWhenTheSessionAndOutputsGo) {
  const size_t live = fake_device::heap().live();
  {
    Session s(mixed_model(true), on(fake_device::kDevice, 0));
    NamedTensors out = s.run(mixed_feeds());
    EXPECT_GT(fake_device::heap().live(), live);  // w and b stay on the device with the plan
  }
  EXPECT_EQ(fake_device::heap().live(), live);
  EXPECT_EQ(fake_device::heap().foreign_frees(), 0u);
}

// x -> Relu = r (device); If(c) then HostCheck(r) else Neg(r) (bodies on the CPU, reading r through
// the frame); Add(r, branch) on the device.
Model if_model() {
  Model m;
  m.opsets = {{"", 17}, {"kiln.test", 1}};
  Graph& g = m.graph;
  g.name = "branches";
  g.inputs = {f32("x", {2, 2})};
  ValueInfo c;
  c.name = "c";
  c.dtype = DType::Bool;
  c.shape = std::vector<Dim>{};
  g.inputs.push_back(c);
  g.nodes.push_back(node("Relu", {"x"}, {"r"}));
  auto branch = [](const std::string& name, Node body) {
    auto sg = std::make_shared<Graph>();
    sg->name = name;
    sg->nodes.push_back(std::move(body));
    ValueInfo o;
    o.name = sg->nodes.back().outputs[0];
    o.dtype = DType::F32;
    sg->outputs.push_back(o);
    return sg;
  };
  Node n = node("If", {"c"}, {"z"});
  Attribute then_g, else_g;
  then_g.kind = else_g.kind = Attribute::Kind::Graph;
  then_g.g = branch("then", node("HostCheck", {"r"}, {"checked"}, "kiln.test"));
  else_g.g = branch("else", node("Neg", {"r"}, {"negated"}));
  n.attributes["then_branch"] = then_g;
  n.attributes["else_branch"] = else_g;
  g.nodes.push_back(n);
  g.nodes.push_back(node("Add", {"r", "z"}, {"y"}));
  g.outputs = {f32("y", {2, 2})};
  return m;
}

TEST(DeviceSeam, SubgraphsReadCpuCopiesOfDeviceValues) {
  fake_device::log().clear();
  Session dev(if_model(), on(fake_device::kDevice, 0)), cpu(if_model(), on(Device{}, 0));
  std::vector<std::string> steps;
  for (const auto& st : describe_plan(dev).steps) steps.push_back(step_text(st));
  EXPECT_EQ(steps, (std::vector<std::string>{"kiln:Copy@test:0(x)->x@test:0", "Relu@test:0(x@test:0)->r",
                                             "kiln:Copy@cpu(r)->r@cpu", "If@cpu(c)->z", "kiln:Copy@test:0(z)->z@test:0",
                                             "Add@test:0(r,z@test:0)->y", "kiln:Copy@cpu(y)->y@cpu"}));
  for (bool c : {true, false}) {
    NamedTensors feeds{{"x", Tensor::from_vector<float>({2, 2}, {1.f, -2.f, 3.f, -4.f})},
                       {"c", Tensor::from_vector<bool>({}, {c})}};
    NamedTensors got = dev.run(feeds), want = cpu.run(feeds);
    expect_bitwise_equal(got, want);
    // Independent check: relu(x) + relu(x) or relu(x) - relu(x).
    std::vector<float> y = got.at("y").to_vector<float>();
    EXPECT_EQ(y, c ? (std::vector<float>{2.f, 0.f, 6.f, 0.f}) : (std::vector<float>{0.f, 0.f, 0.f, 0.f}));
  }
  expect_no_violations();
}

TEST(DeviceSeam, DistilBertOnTheDeviceEqualsTheCpuRunAndPyTorch) {
  const std::string model = test::fixture("models/distilbert-tiny/model.onnx");
  NamedTensors feeds = read_tensors_json(test::fixture("models/distilbert-tiny/ref/case0_inputs.json"));
  NamedTensors refs = read_tensors_json(test::fixture("models/distilbert-tiny/ref/case0_outputs.json"));
  for (int level : {0, 2}) {
    fake_device::log().clear();
    Session dev(model, on(fake_device::kDevice, level)), cpu(model, on(Device{}, level));
    NamedTensors got = dev.run(feeds);
    expect_bitwise_equal(got, cpu.run(feeds));
    for (const auto& [name, ref] : refs)
      EXPECT_LT(test::relative_error(got.at(name), ref), 1e-4) << name << " at level " << level;
    PlanInfo plan = describe_plan(dev);
    EXPECT_GT(plan.copies(), 0u);
    size_t on_device = 0;
    for (const auto& st : plan.steps) on_device += st.device == fake_device::kDevice && !st.is_copy();
    EXPECT_GT(on_device, 0u) << "level " << level;
    std::lock_guard<std::mutex> lock(fake_device::log().mu);
    EXPECT_GT(fake_device::log().runs["Add"], 0) << "level " << level;
    if (level == 0) EXPECT_GT(fake_device::log().runs["MatMul"], 0);
    for (const auto& v : fake_device::log().violations) ADD_FAILURE() << v;
  }
  if (test::have_ort()) {
    test::ScratchDir dir("device_seam_distilbert");
    for (const auto& [name, err] : test::kiln_vs_ort(model, feeds, dir.path.string(), on(fake_device::kDevice)))
      EXPECT_LT(err, 1e-4) << name;
  }
}

TEST(DeviceSeam, ConcurrentRunsOnTheDeviceGiveTheSameOutputs) {
  const std::string model = test::fixture("models/distilbert-tiny/model.onnx");
  NamedTensors feeds = read_tensors_json(test::fixture("models/distilbert-tiny/ref/case0_inputs.json"));
  fake_device::log().clear();
  SessionOptions cpu = on(Device{}), dev_options = on(fake_device::kDevice);
  cpu.threads = dev_options.threads = 1;  // application threads only (as scripts/tsan wants them)
  NamedTensors want = Session(model, cpu).run(feeds);
  Session dev(model, dev_options);
  std::vector<NamedTensors> got(4 * 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 4; ++r) got[t * 4 + r] = dev.run(feeds);
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) expect_bitwise_equal(g, want);
  expect_no_violations();
}

TEST(DeviceSeam, CpuSessionsHaveNoCopies) {
  Session s(test::fixture("models/distilbert-tiny/model.onnx"));
  PlanInfo plan = describe_plan(s);
  EXPECT_EQ(plan.copies(), 0u);
  EXPECT_TRUE(plan.constants_on_device.empty());
  for (const auto& st : plan.steps) EXPECT_TRUE(st.device.is_cpu()) << st.op;
}

TEST(DeviceSeam, DevicesThisBuildLacksAreRefusedBeforeLoading) {
  SessionOptions o;
  o.device = Device{DeviceType::Cuda, 0};
  try {
    Session s("/nonexistent/model.onnx", o);  // the device is checked before the file is read
    ADD_FAILURE() << "cuda accepted";
  } catch (const Unsupported& e) {
    EXPECT_EQ(std::string(e.what()).rfind("kiln was built without CUDA: ", 0), 0u) << e.what();
  }
  o.device = Device{DeviceType::Test, 3};
  try {
    Session s(mixed_model(false), o);
    ADD_FAILURE() << "test:3 accepted";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("test:0"), std::string::npos) << e.what();  // what there is
  }
}

TEST(DeviceSeam, FeedsMustBeInCpuMemory) {
  Session s(mixed_model(false), on(fake_device::kDevice, 0));
  NamedTensors feeds{{"x", Tensor(DType::F32, {2, 3}, fake_device::heap())}};
  EXPECT_THROW(s.run(feeds), BadInput);
}

TEST(DeviceSeam, AKernelLeavingAnOutputInTheWrongMemoryIsCaught) {
  Model m;
  m.opsets = {{"", 17}, {"kiln.test", 1}};
  m.graph.name = "broken";
  m.graph.inputs = {f32("x", {2})};
  m.graph.nodes.push_back(node("LeavesCpuOutput", {"x"}, {"y"}, "kiln.test"));
  m.graph.outputs = {f32("y", {2})};
  Session s(std::move(m), on(fake_device::kDevice, 0));
  try {
    s.run({{"x", Tensor::from_vector<float>({2}, {1.f, 2.f})}});
    ADD_FAILURE() << "accepted";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("left output 0 in cpu memory instead of test:0"), std::string::npos) << e.what();
  }
}

TEST(DeviceSeam, StringsStayOnTheCpu) {
  Tensor strings = Tensor::from_vector<std::string>({1}, {"a"});
  EXPECT_THROW(copy_to(strings, fake_device::heap()), Unsupported);
  EXPECT_THROW(Tensor(DType::String, {1}, fake_device::heap()), Unsupported);
}

}  // namespace
